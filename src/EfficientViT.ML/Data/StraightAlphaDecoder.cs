using System.Runtime.InteropServices;
using EfficientViT.ML.IO;
using SkiaSharp;

namespace EfficientViT.ML.Data;

/// <summary>
/// Decodes encoded images (PNG, JPEG, BMP, WebP, ...) to 8-bit RGBA with straight (unpremultiplied) alpha,
/// and refuses truncated or corrupt data, JPEG scans without data (see <see cref="JpegScans"/>), and paths that
/// name no regular file (a named pipe would block the reader for ever).
/// </summary>
/// <remarks>
/// SkiaSharp's <c>SKBitmap.Decode</c>, which ML.NET's <c>MLImage</c> uses, premultiplies colour by alpha
/// (a transparent pixel becomes black) and accepts a file whose data stops early, filling the missing rows
/// with transparent black. The models are trained on PIL's <c>convert('RGB')</c>, which keeps the stored
/// colour and drops alpha; decoding here keeps the stored colour too, and only a complete decode is accepted.
/// Like <c>SKBitmap.Decode</c>, no colour-space conversion is applied.
/// </remarks>
internal static class StraightAlphaDecoder
{
    /// <summary>The most pixels an image may have: PIL's limit (twice its MAX_IMAGE_PIXELS), past which it raises DecompressionBombError.</summary>
    public const long MaxPixels = 2 * 89_478_485;

    /// <summary>Decodes an image file.</summary>
    /// <exception cref="InvalidDataException">The file is missing or is not a complete image; the message gives the reason, not the path.</exception>
    public static RgbaPixels DecodeFile(string path)
    {
        if (UnixFileStatus.Of(path) is { Kind: not UnixFileKind.Regular and var kind })
            throw new InvalidDataException(kind == UnixFileKind.Missing ? "the file does not exist" : $"it is {UnixFileStatus.Describe(kind)}, not a regular file");
        if (!File.Exists(path))
            throw new InvalidDataException("the file does not exist");
        // A JPEG is read whole, to check its scans; other files are streamed to the decoder.
        if (IsJpeg(path))
            return DecodeBytes(File.ReadAllBytes(path));
        using var codec = SKCodec.Create(path, out var result);
        return Decode(codec, result);
    }

    /// <summary>Decodes an encoded image held in memory.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a complete image; the message gives the reason.</exception>
    public static RgbaPixels DecodeBytes(byte[] bytes)
    {
        if (JpegScans.FindEmptyScan(bytes) is { } problem)
            throw new InvalidDataException(problem);
        using var stream = new SKMemoryStream(bytes);
        using var codec = SKCodec.Create(stream, out var result);
        return Decode(codec, result);
    }

    private static bool IsJpeg(string path)
    {
        Span<byte> start = stackalloc byte[2];
        using var file = File.OpenRead(path);
        return file.ReadAtLeast(start, 2, throwOnEndOfStream: false) == 2 && start[0] == 0xFF && start[1] == 0xD8;
    }

    private static RgbaPixels Decode(SKCodec? codec, SKCodecResult created)
    {
        if (codec is null)
            throw new InvalidDataException($"not an image format SkiaSharp can decode ({created})");
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0)
            throw new InvalidDataException($"the image has no pixels ({width}x{height})");
        // A header can declare any size; refuse what PIL refuses as a decompression bomb before allocating.
        if ((long)width * height > MaxPixels)
            throw new InvalidDataException($"the image declares {width}x{height} pixels, more than the {MaxPixels:N0} accepted");
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = new RgbaPixels(width, height, codec.Info.AlphaType != SKAlphaType.Opaque);
        var handle = GCHandle.Alloc(pixels.Buffer, GCHandleType.Pinned);
        SKCodecResult decoded;
        try
        {
            decoded = codec.GetPixels(info, handle.AddrOfPinnedObject());
        }
        finally
        {
            handle.Free();
        }
        if (decoded == SKCodecResult.Success)
            return pixels;
        pixels.Dispose();
        throw new InvalidDataException(decoded switch
        {
            // SkiaSharp fills what it could not read with transparent black and reports it only here.
            SKCodecResult.IncompleteInput => "the image data ends early (a truncated file)",
            SKCodecResult.ErrorInInput => "the image data is corrupt",
            _ => $"the image cannot be decoded ({decoded})",
        });
    }
}
