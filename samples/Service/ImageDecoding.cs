using Microsoft.ML.Data;
using SkiaSharp;

namespace EfficientViT.Service;

/// <summary>Decodes an uploaded image file, refusing oversized images from their header before any pixel memory is allocated.</summary>
public static class ImageDecoding
{
    /// <summary>Decodes <paramref name="bytes"/> into an opaque RGBA image.</summary>
    /// <param name="bytes">An encoded image file (PNG, JPEG, GIF, BMP, WebP, ICO).</param>
    /// <param name="maxPixels">The most pixels (width × height) accepted.</param>
    /// <exception cref="RequestRejectedException">400: empty, not an image, or corrupt; 413: more than <paramref name="maxPixels"/> pixels.</exception>
    public static MLImage Decode(ReadOnlyMemory<byte> bytes, long maxPixels)
    {
        if (bytes.Length == 0)
            throw new RequestRejectedException(StatusCodes.Status400BadRequest, "the image is empty (0 bytes)");
        using var data = SKData.CreateCopy(bytes.Span);
        using var codec = SKCodec.Create(data)
            ?? throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the {bytes.Length:N0} bytes are not an image that can be decoded (PNG, JPEG, GIF, BMP, WebP or ICO)");
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0)
            throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the image declares {width}x{height} pixels");
        if ((long)width * height > maxPixels)
            throw new RequestRejectedException(StatusCodes.Status413RequestEntityTooLarge,
                $"the image is {width}x{height} = {(long)width * height / 1e6:F1} megapixels; at most {maxPixels / 1e6:F1} megapixels are accepted");
        // Straight (unpremultiplied) colour, made opaque below: transparent pixels keep their stored colour,
        // as the library's encoded-image decoder and PIL's convert('RGB') do.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
            throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the {width}x{height} image could not be decoded ({result}): the file is truncated or corrupt");
        var rgba = bitmap.GetPixelSpan().ToArray();
        for (var i = 3; i < rgba.Length; i += 4)
            rgba[i] = 255;
        return MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
    }
}
