using SkiaSharp;

namespace EfficientViT.Service.Tests;

/// <summary>Image files made for the tests.</summary>
internal static class TestImages
{
    /// <summary>A request body of <paramref name="bytes"/> with the given Content-Type (parameters allowed).</summary>
    public static ByteArrayContent Body(byte[] bytes, string contentType = "image/png")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

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
}
