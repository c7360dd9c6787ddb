using EfficientViT.ML.Data;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Decodes encoded image bytes (PNG, JPEG, BMP, WebP, ... as read by <c>LoadRawImageBytes</c> or held
/// in a <c>byte[]</c> column) into images, inside ML.NET's <c>CustomMapping</c>. A saved model that uses
/// it records only the contract name <see cref="ContractName"/>: before <c>mlContext.Model.Load</c>, call
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(EncodedImageDecoder).Assembly)</c>.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class EncodedImageDecoder : CustomMappingFactory<EncodedImageDecoder.Encoded, EncodedImageDecoder.Decoded>
{
    /// <summary>The name a saved model uses for this mapping.</summary>
    public const string ContractName = "EfficientViT.DecodeImageBytes";

    /// <summary>Fixed column names: a saved CustomMapping keeps no column renames, so the featurizer copies the user's column to this one.</summary>
    public const string EncodedColumnName = "EfficientVit_EncodedImage";

    /// <summary>The decoded image column, dropped again by the featurizer.</summary>
    public const string DecodedColumnName = "EfficientVit_DecodedImage";

    /// <inheritdoc/>
    public override Action<Encoded, Decoded> GetMapping() => Decode;

    /// <summary>Decodes one row.</summary>
    public static void Decode(Encoded input, Decoded output)
    {
        var bytes = input.Bytes ?? [];
        if (bytes.Length == 0)
            throw new InvalidOperationException("the image bytes are empty");
        // The previous row's image is no longer read by anyone: release its native bitmap now.
        output.Image?.Dispose();
        output.Image = null;
        RgbaPixels decoded;
        try
        {
            decoded = StraightAlphaDecoder.DecodeBytes(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidOperationException($"the {bytes.Length} bytes are not an image that can be decoded: {e.Message}", e);
        }
        using (decoded)
        {
            // Alpha is dropped, as PIL's convert('RGB') drops it: the stored colour made opaque, so that
            // ResizeImages, which draws onto an opaque bitmap, does not blend it over black.
            if (decoded.HasAlpha)
                MakeOpaque(decoded.Span);
            output.Image = MLImage.CreateFromPixels(decoded.Width, decoded.Height, MLPixelFormat.Rgba32, decoded.Span);
        }
    }

    private static void MakeOpaque(Span<byte> rgba)
    {
        for (var i = 3; i < rgba.Length; i += 4)
            rgba[i] = 255;
    }

    /// <summary>The mapping's input row.</summary>
    public sealed class Encoded
    {
        /// <summary>The encoded image file's bytes.</summary>
        [ColumnName(EncodedColumnName)]
        public byte[]? Bytes { get; set; }
    }

    /// <summary>The mapping's output row.</summary>
    public sealed class Decoded
    {
        /// <summary>The decoded image, at its own size.</summary>
        /// <remarks>
        /// The declared 1x1 is a placeholder: a saved CustomMapping rebuilds its column types from these
        /// attributes alone, and an attribute-declared image type must have a size. Only ResizeImages
        /// reads this column, and it works from each image's actual size.
        /// </remarks>
        [ColumnName(DecodedColumnName)]
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }
}
