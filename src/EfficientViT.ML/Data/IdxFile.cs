using System.Buffers.Binary;
using System.IO.Compression;

namespace EfficientViT.ML.Data;

/// <summary>
/// Reads and writes gzipped idx files (the MNIST format): a big-endian magic number whose low byte is the
/// number of dimensions and whose next byte is the element type (0x08 = unsigned byte), then each dimension
/// as a big-endian int32, then the data.
/// </summary>
internal static class IdxFile
{
    /// <summary>Magic of an unsigned-byte, three-dimensional file (images: count, rows, columns).</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic of an unsigned-byte, one-dimensional file (labels).</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Reads a whole gzipped idx file, checking its magic and that its data is exactly as long as its header says.</summary>
    /// <returns>The dimensions and the data, row-major.</returns>
    public static (int[] Dimensions, byte[] Data) ReadGz(string path, int expectedMagic)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);

        var magicBytes = new byte[4];
        ReadExactly(gzip, magicBytes, path, "header");
        var magic = BinaryPrimitives.ReadInt32BigEndian(magicBytes);
        if (magic != expectedMagic)
            throw new InvalidDataException($"{path}: magic number is 0x{magic:X8}, expected 0x{expectedMagic:X8}; is it the right idx file?");

        var rank = expectedMagic & 0xFF;
        var header = new byte[4 * rank];
        ReadExactly(gzip, header, path, "header");
        var dimensions = new int[rank];
        var total = 1L;
        for (var i = 0; i < rank; i++)
        {
            dimensions[i] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 * i));
            if (dimensions[i] < 0)
                throw new InvalidDataException($"{path}: dimension {i} is negative ({dimensions[i]}).");
            total *= dimensions[i];
        }
        if (total > Array.MaxLength)
            throw new InvalidDataException($"{path}: the header's dimensions ({string.Join(" x ", dimensions)}) are too large.");

        var data = new byte[total];
        ReadExactly(gzip, data, path, "data");
        // Extra bytes mean the header's counts do not describe the file: better to stop than to misread it.
        if (ReadByteChecked(gzip, path) >= 0)
            throw new InvalidDataException($"{path}: has more data than its header's dimensions ({string.Join(" x ", dimensions)}) account for.");
        return (dimensions, data);
    }

    /// <summary>Writes a gzipped idx file of unsigned bytes.</summary>
    public static void WriteGz(string path, int magic, int[] dimensions, byte[] data)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
            Directory.CreateDirectory(directory);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Optimal);
        var header = new byte[4 + 4 * dimensions.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (var i = 0; i < dimensions.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dimensions[i]);
        gzip.Write(header);
        gzip.Write(data);
    }

    private static void ReadExactly(Stream stream, byte[] buffer, string path, string part)
    {
        int read;
        try
        {
            read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException e)
        {
            // The decompressor's own message does not say which file it was reading.
            throw new InvalidDataException($"{path}: the gzip data is corrupt or truncated ({e.Message}).", e);
        }
        if (read < buffer.Length)
            throw new InvalidDataException($"{path}: truncated: the {part} needs {buffer.Length} bytes but the file ends after {read}.");
    }

    private static int ReadByteChecked(Stream stream, string path)
    {
        try
        {
            return stream.ReadByte();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: the gzip data is corrupt ({e.Message}).", e);
        }
    }
}
