using SkiaSharp;

namespace EfficientViT.Service.Tests;

/// <summary>Image files made for the tests.</summary>
internal static class TestImages
{
    /// <summary>A photo-like colour JPEG: a sky-to-ground gradient, a few filled shapes, and pixel noise.</summary>
    public static void WriteColourPhoto(string path, int width, int height)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var surface = SKSurface.Create(info);
        var canvas = surface.Canvas;
        using (var sky = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(0, height), [new SKColor(90, 150, 230), new SKColor(230, 200, 150), new SKColor(60, 110, 40)], SKShaderTileMode.Clamp) })
            canvas.DrawRect(0, 0, width, height, sky);
        using (var sun = new SKPaint { Color = new SKColor(250, 220, 60), IsAntialias = true })
            canvas.DrawCircle(width * 0.75f, height * 0.25f, height * 0.12f, sun);
        using (var house = new SKPaint { Color = new SKColor(170, 40, 30), IsAntialias = true })
            canvas.DrawRect(width * 0.15f, height * 0.5f, width * 0.3f, height * 0.3f, house);
        var random = new Random(5);
        using (var speck = new SKPaint())
            for (var i = 0; i < width * height / 20; i++)
            {
                speck.Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), 60);
                canvas.DrawPoint(random.Next(width), random.Next(height), speck);
            }
        using var image = surface.Snapshot();
        using var jpeg = image.Encode(SKEncodedImageFormat.Jpeg, 90);
        File.WriteAllBytes(path, jpeg.ToArray());
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
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header, width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;   // bit depth
        header[9] = 2;   // RGB
        Chunk(file, "IHDR", header);
        Chunk(file, "IDAT", [0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]);
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void Chunk(Stream file, string type, byte[] data)
    {
        var length = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        file.Write(length);
        var typeAndData = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        file.Write(typeAndData);
        var crc = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeAndData));
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
