using System.Buffers.Binary;
using System.IO.Compression;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.IO;
using Microsoft.ML.OnnxRuntime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// The networks of a model zip's <c>ApplyOnnxModel</c> steps, by folder (<c>TransformerChain/Transform_002/</c>), read
/// and checked before ML.NET loads the zip: ML.NET reads each network into memory at the size the entry declares and
/// writes it to a temp file, so an entry that would expand past <see cref="BatchedScoringOptions.MaxOnnxModelBytes"/>,
/// or more than a network compresses, is refused by its declared sizes before anything is inflated or written. Every
/// entry is checked against its checksum, which .NET's zip reader does not do: a byte changed in place would otherwise
/// load as another network or another step's setting.
/// </summary>
internal static class ModelZipNetworks
{
    // Where ML.NET writes an ApplyOnnxModel step's network: an int32 length, then the ONNX model's bytes.
    private const string OnnxModelEntry = "OnnxModel";
    private const int LengthPrefixBytes = 4;

    /// <summary>Reads the networks of <paramref name="zip"/> (seekable; its position is left where it was).</summary>
    /// <param name="zip">The model zip.</param>
    /// <param name="source">The zip in messages: <c>'model.zip'</c> or <c>the stream</c>.</param>
    /// <param name="maxEntryBytes">The most an ONNX entry may take inflated.</param>
    /// <exception cref="InvalidDataException">The zip cannot be read, or an ONNX entry is oversized, truncated or corrupt; the message names the zip and the entry.</exception>
    public static Dictionary<string, byte[]> Read(Stream zip, string source, long maxEntryBytes)
    {
        var start = zip.Position;
        var zipLength = zip.Length - start;
        var networks = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            using var archive = new ZipArchive(zip, ZipArchiveMode.Read, leaveOpen: true);
            foreach (var entry in archive.Entries)
            {
                CheckSizes(entry, zipLength, source, maxEntryBytes);
                if (entry.FullName.EndsWith("/" + OnnxModelEntry, StringComparison.Ordinal))
                    networks[entry.FullName[..^OnnxModelEntry.Length]] = ReadNetwork(entry, source);
                else
                    CheckContent(entry, source);
            }
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source} is not a readable zip: {e.Message}", e);
        }
        finally
        {
            zip.Position = start;
        }
        return networks;
    }

    /// <summary>
    /// The first network ONNX Runtime refuses, as an error naming its entry, or null: for a zip ML.NET failed to load,
    /// whose error does not say which step it was loading.
    /// </summary>
    public static string? RefusedByOnnxRuntime(IReadOnlyDictionary<string, byte[]> networks, string source)
    {
        foreach (var (folder, network) in networks)
        {
            try
            {
                using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
                using var session = new InferenceSession(network, options);
            }
            catch (OnnxRuntimeException e)
            {
                return $"{source}: zip entry '{folder}{OnnxModelEntry}' is not a network ONNX Runtime can load: {e.Message.Split('\n', 2)[0].TrimEnd('\r')}";
            }
        }
        return null;
    }

    // The declared sizes, before anything is inflated; .NET's zip reader stops at the declared size, so they bound what is read.
    private static void CheckSizes(ZipArchiveEntry entry, long zipLength, string source, long maxEntryBytes)
    {
        if (entry.CompressedLength > zipLength)
            throw Corrupt(source, entry, $"claims {entry.CompressedLength:N0} stored bytes, but the zip has only {zipLength:N0} (truncated or corrupt)");
        if (entry.Length > maxEntryBytes)
        {
            throw Corrupt(source, entry,
                $"would expand to {entry.Length:N0} bytes, more than the {maxEntryBytes:N0} an ONNX network may take (BatchedScoringOptions.MaxOnnxModelBytes; EfficientViT-M5's network takes about 50 MB)");
        }
        // As for a .pth entry: a network's weights compress little, a zip bomb a thousandfold.
        if (entry.Length > entry.CompressedLength
            && entry.Length - TorchCheckpointReader.InflationAllowanceBytes > TorchCheckpointReader.MaxInflation * entry.CompressedLength)
        {
            throw Corrupt(source, entry,
                $"would expand from {entry.CompressedLength:N0} to {entry.Length:N0} bytes, more than {TorchCheckpointReader.MaxInflation}-fold (a network's weights compress far less; the zip is corrupt or a zip bomb)");
        }
        if (entry.Length <= LengthPrefixBytes)
            throw Corrupt(source, entry, $"is {entry.Length} bytes, too short to hold a network");
    }

    private static byte[] ReadNetwork(ZipArchiveEntry entry, string source)
    {
        try
        {
            using var stream = entry.Open();
            Span<byte> prefix = stackalloc byte[LengthPrefixBytes];
            stream.ReadExactly(prefix);
            var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
            if (length != entry.Length - LengthPrefixBytes)
                throw Corrupt(source, entry, $"declares a network of {length:N0} bytes but holds {entry.Length - LengthPrefixBytes:N0}");
            var network = new byte[length];
            stream.ReadExactly(network);
            // .NET's zip reader does not compare the checksum: data changed in place would load as another network.
            if (Crc32.Append(Crc32.Compute(prefix), network) != entry.Crc32)
                throw Corrupt(source, entry, "does not match its checksum (the zip is corrupt)");
            return network;
        }
        catch (Exception e) when (e is EndOfStreamException || (e is InvalidDataException && !e.Message.StartsWith(source, StringComparison.Ordinal)))
        {
            throw Corrupt(source, entry, $"cannot be read, the zip is truncated or corrupt ({e.Message.TrimEnd('.')})", e);
        }
    }

    // The other entries (the steps' settings, the schema) are small; they are inflated through one buffer to compare their checksums.
    private static void CheckContent(ZipArchiveEntry entry, string source)
    {
        try
        {
            using var stream = entry.Open();
            var buffer = new byte[81920];
            uint crc = 0;
            long length = 0;
            for (int read; (read = stream.Read(buffer)) > 0; length += read)
                crc = Crc32.Append(crc, buffer.AsSpan(0, read));
            if (length != entry.Length)
                throw Corrupt(source, entry, $"holds {length:N0} bytes but declares {entry.Length:N0} (truncated or corrupt)");
            if (crc != entry.Crc32)
                throw Corrupt(source, entry, "does not match its checksum (the zip is corrupt)");
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw Corrupt(source, entry, $"cannot be read, the zip is truncated or corrupt ({e.Message.TrimEnd('.')})", e);
        }
    }

    private static InvalidDataException Corrupt(string source, ZipArchiveEntry entry, string problem, Exception? cause = null) =>
        new($"{source}: zip entry '{entry.FullName}' {problem}.", cause);
}
