using System.Runtime.InteropServices;
using EfficientViT.ML.Data;
using Microsoft.ML.Data;
using SkiaSharp;

namespace EfficientViT.Service;

/// <summary>
/// An uploaded image file whose header has been read and checked: its size is known before any pixel memory
/// is allocated, so that oversized images are refused and the decode can wait for room in the memory budget.
/// </summary>
public sealed class EncodedImage : IDisposable
{
    /// <summary>
    /// Bytes of pixel memory one pixel of an upload takes while its request runs: four full-size RGBA images at
    /// once. Measured (mmap calls for one 4096×4096 upload to the demo's model): the decoder's bitmap and the
    /// <c>MLImage</c> made from it, then, while the model's image steps run, the <c>MLImage</c>, its grayscale
    /// copy and two more full-size images that ML.NET's steps make on the way to the model's size.
    /// </summary>
    public const int DecodedBytesPerPixel = 16;

    private readonly SKData data;
    private readonly SKCodec codec;

    private EncodedImage(SKData data, SKCodec codec)
    {
        this.data = data;
        this.codec = codec;
    }

    /// <summary>The image's width in pixels, from its header.</summary>
    public int Width => codec.Info.Width;

    /// <summary>The image's height in pixels, from its header.</summary>
    public int Height => codec.Info.Height;

    /// <summary>The pixel memory decoding and scoring this image takes (see <see cref="DecodedBytesPerPixel"/>).</summary>
    public long DecodedBytes => (long)Width * Height * DecodedBytesPerPixel;

    /// <summary>Reads the header of <paramref name="bytes"/>.</summary>
    /// <param name="bytes">An encoded image file (PNG, JPEG, GIF, BMP, WebP, ICO).</param>
    /// <param name="maxPixels">The most pixels (width × height) accepted.</param>
    /// <exception cref="RequestRejectedException">400: empty, not an image, or a JPEG without image data; 413: more than <paramref name="maxPixels"/> pixels.</exception>
    public static EncodedImage Open(ReadOnlyMemory<byte> bytes, long maxPixels)
    {
        if (bytes.Length == 0)
            throw new RequestRejectedException(StatusCodes.Status400BadRequest, "the image is empty (0 bytes)");
        var data = SKData.CreateCopy(bytes.Span);
        var codec = SKCodec.Create(data);
        if (codec is null)
        {
            data.Dispose();
            throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the {bytes.Length:N0} bytes are not an image that can be decoded (PNG, JPEG, GIF, BMP, WebP or ICO)");
        }
        var image = new EncodedImage(data, codec);
        try
        {
            var (width, height) = (image.Width, image.Height);
            if (width <= 0 || height <= 0)
                throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the image declares {width}x{height} pixels");
            if ((long)width * height > maxPixels)
                throw new RequestRejectedException(StatusCodes.Status413RequestEntityTooLarge,
                    $"the image is {width}x{height} = {(long)width * height / 1e6:F1} megapixels; at most {maxPixels / 1e6:F1} megapixels are accepted");
            if (JpegScans.FindEmptyScan(bytes.Span) is { } problem)
                throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the {width}x{height} image could not be decoded: {problem}");
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>Decodes the pixels into an opaque RGBA image, the caller's to dispose.</summary>
    /// <exception cref="RequestRejectedException">400: the file is truncated or corrupt.</exception>
    /// <exception cref="InsufficientMemoryException">The pixel memory could not be allocated.</exception>
    public MLImage Decode()
    {
        var (width, height) = (Width, Height);
        // Straight (unpremultiplied) colour, made opaque below: transparent pixels keep their stored colour,
        // as the library's encoded-image decoder and PIL's convert('RGB') do.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap();
        if (!bitmap.TryAllocPixels(info))
            throw OutOfPixelMemory();
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
            throw new RequestRejectedException(StatusCodes.Status400BadRequest, $"the {width}x{height} image could not be decoded ({result}): the file is truncated or corrupt");
        var rgba = MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(bitmap.GetPixelSpan()), width * height * 4);
        if (codec.Info.AlphaType != SKAlphaType.Opaque)
        {
            foreach (ref var pixel in MemoryMarshal.Cast<byte, uint>(rgba))
                pixel |= BitConverter.IsLittleEndian ? 0xFF000000u : 0x000000FFu;
        }
        try
        {
            return MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
        }
        catch (Exception e) when (e is not (ArgumentException or OutOfMemoryException))
        {
            // SkiaSharp reports a bitmap it could not allocate with a plain Exception.
            throw OutOfPixelMemory(e);
        }

        InsufficientMemoryException OutOfPixelMemory(Exception? inner = null) =>
            new($"not enough memory to decode the {width}x{height} image ({(long)width * height * 4 / 1e6:F0} MB of pixels)", inner);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        codec.Dispose();
        data.Dispose();
    }
}
