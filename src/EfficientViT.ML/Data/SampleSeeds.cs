namespace EfficientViT.ML.Data;

/// <summary>
/// The seeds the loader derives from its seed: fixed formulas (not <see cref="HashCode"/>, which is
/// randomized per process), so that a run can be repeated or resumed in another process.
/// </summary>
internal static class SampleSeeds
{
    /// <summary>The seed of an epoch's shuffle.</summary>
    public static int ForEpoch(int seed, int epoch) => unchecked(seed * 1_000_003 + epoch);

    /// <summary>The seed of the augmentation of the sample at <paramref name="position"/> of an epoch's order.</summary>
    public static int ForSample(int seed, int epoch, int position)
    {
        var h = Mix((uint)seed);
        h = Mix(h ^ (uint)epoch);
        h = Mix(h ^ (uint)position);
        return (int)(h >> 32);
    }

    /// <summary>SplitMix64's finalizer: every input bit affects every output bit.</summary>
    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
