/// <summary>
/// Deterministic mutations of a seed file: bit flips, byte overwrites, truncations and splices (a chunk copied
/// over, inserted into or cut from the file), one to three at a time. Input <c>i</c> of seed <c>s</c> is always
/// the same bytes, so a failure is reproduced from its number alone.
/// </summary>
internal sealed class Mutator
{
    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xFF];

    private readonly byte[] seed;
    private readonly int hotBytes;

    /// <param name="seed">The file to mutate.</param>
    /// <param name="hotBytes">Most mutations land in the first and last this many bytes, where a file's structure
    /// lives (a zip's data.pkl and central directory, a safetensors header); flipping tensor data tests little.</param>
    public Mutator(byte[] seed, int hotBytes)
    {
        this.seed = seed;
        this.hotBytes = Math.Min(hotBytes, seed.Length);
    }

    public byte[] Mutate(int fuzzSeed, int index)
    {
        // Not HashCode.Combine: it is seeded differently in every process.
        var rng = new Random(unchecked(fuzzSeed * 1_000_003 + index));
        var bytes = new List<byte>(seed);
        int operations = rng.Next(1, 4);
        for (int i = 0; i < operations && bytes.Count > 0; i++)
        {
            switch (rng.Next(6))
            {
                case 0: // bit flips
                    for (int n = rng.Next(1, 9); n > 0; n--)
                    {
                        int at = Position(rng, bytes.Count);
                        bytes[at] ^= (byte)(1 << rng.Next(8));
                    }
                    break;
                case 1: // bytes set to values that break lengths and counts
                    for (int n = rng.Next(1, 5); n > 0; n--)
                        bytes[Position(rng, bytes.Count)] = rng.Next(2) == 0 ? InterestingBytes[rng.Next(InterestingBytes.Length)] : (byte)rng.Next(256);
                    break;
                case 2: // truncation
                    {
                        int keep = Position(rng, bytes.Count);
                        bytes.RemoveRange(keep, bytes.Count - keep);
                        break;
                    }
                case 3: // splice: a chunk copied over another place
                    {
                        int from = Position(rng, bytes.Count), to = Position(rng, bytes.Count);
                        int length = Math.Min(rng.Next(1, 4097), Math.Min(bytes.Count - from, bytes.Count - to));
                        byte[] chunk = bytes.GetRange(from, length).ToArray();
                        for (int k = 0; k < length; k++)
                            bytes[to + k] = chunk[k];
                        break;
                    }
                case 4: // splice: a chunk inserted again elsewhere
                    {
                        int from = Position(rng, bytes.Count);
                        int length = Math.Min(rng.Next(1, 4097), bytes.Count - from);
                        bytes.InsertRange(Position(rng, bytes.Count), bytes.GetRange(from, length));
                        break;
                    }
                default: // a chunk cut out
                    {
                        int from = Position(rng, bytes.Count);
                        bytes.RemoveRange(from, Math.Min(rng.Next(1, 4097), bytes.Count - from));
                        break;
                    }
            }
        }
        return bytes.ToArray();
    }

    private int Position(Random rng, int length)
    {
        int hot = Math.Min(hotBytes, length);
        return rng.Next(10) switch
        {
            < 6 => rng.Next(hot),                   // the head
            < 9 => length - 1 - rng.Next(hot),      // the tail
            _ => rng.Next(length),                  // anywhere
        };
    }
}
