using System.Buffers.Binary;
using System.Text;
using SkiaSharp;

namespace EfficientViT.Service.LoadTest;

/// <summary>
/// Uploads a careless or hostile client sends: images that decode to far more memory than they take, headers
/// that lie, files and forms cut short. Made here, in code, so that the tests and the soak run send exactly these.
/// </summary>
public static class HostileUploads
{
    /// <summary>
    /// A PNG of <paramref name="width"/>×<paramref name="height"/> pixels (a gradient with a few shapes) that compresses
    /// to a few hundred KB at most: 4096×4096 decodes to 64 MB of RGBA from a tiny upload.
    /// </summary>
    public static byte[] LargePng(int width, int height)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        using (var gradient = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(width, height), [SKColors.Navy, SKColors.Orange], SKShaderTileMode.Clamp) })
            canvas.DrawRect(0, 0, width, height, gradient);
        using (var shape = new SKPaint { Color = SKColors.White })
            canvas.DrawCircle(width / 2f, height / 2f, Math.Min(width, height) / 4f, shape);
        using var image = surface.Snapshot();
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>
    /// A valid PNG header declaring <paramref name="width"/>×<paramref name="height"/> pixels followed by a few
    /// bytes of image data: a decoder that trusts the header would allocate width·height·4 bytes.
    /// </summary>
    public static byte[] PngDeclaring(int width, int height)
    {
        using var file = new MemoryStream();
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;   // bit depth
        header[9] = 2;   // RGB
        PngChunk(file, "IHDR", header);
        PngChunk(file, "IDAT", [0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]);
        PngChunk(file, "IEND", []);
        return file.ToArray();
    }

    /// <summary>
    /// <paramref name="jpeg"/> up to the end of its first scan's header, then the end-of-image marker: headers,
    /// tables and no image data. libjpeg decodes it to a grey image with no more than a warning.
    /// </summary>
    /// <exception cref="ArgumentException">The file is not a JPEG with a scan.</exception>
    public static byte[] JpegWithoutScanData(byte[] jpeg)
    {
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
            throw new ArgumentException("not a JPEG file", nameof(jpeg));
        var position = 2;
        while (position + 4 <= jpeg.Length && jpeg[position] == 0xFF)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(jpeg.AsSpan(position + 2));
            if (jpeg[position + 1] == 0xDA)
                return [.. jpeg.AsSpan(0, position + 2 + length), 0xFF, 0xD9];
            position += 2 + length;
        }
        throw new ArgumentException("the JPEG has no scan", nameof(jpeg));
    }

    /// <summary>The first <paramref name="fraction"/> of <paramref name="file"/>: a file cut short.</summary>
    public static byte[] Truncated(byte[] file, double fraction) => file[..(int)(file.Length * fraction)];

    /// <summary>The boundary of the forms made here.</summary>
    public const string Boundary = "----efficientvit-upload";

    /// <summary>The Content-Type of the forms made here.</summary>
    public const string MultipartContentType = "multipart/form-data; boundary=" + Boundary;

    /// <summary>A multipart/form-data body with <paramref name="file"/> as its one file field, and its closing boundary.</summary>
    public static byte[] Multipart(byte[] file) => [.. MultipartOpening(), .. file, .. Encoding.ASCII.GetBytes($"\r\n--{Boundary}--\r\n")];

    /// <summary>A multipart/form-data body whose file is complete but whose closing boundary never comes.</summary>
    public static byte[] MultipartWithoutClosingBoundary(byte[] file) => [.. MultipartOpening(), .. file];

    /// <summary>A multipart/form-data body that ends half-way through its file: an upload cut off.</summary>
    public static byte[] MultipartCutInFile(byte[] file) => [.. MultipartOpening(), .. file.AsSpan(0, file.Length / 2)];

    private static byte[] MultipartOpening() => Encoding.ASCII.GetBytes(
        $"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.png\"\r\nContent-Type: application/octet-stream\r\n\r\n");

    private static void PngChunk(Stream file, string type, byte[] data)
    {
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        file.Write(length);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        file.Write(typeAndData);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeAndData));
        file.Write(crc);
    }

    // PNG's CRC-32 (ISO 3309, reflected polynomial 0xEDB88320), bit by bit: a few hundred bytes are checksummed.
    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
