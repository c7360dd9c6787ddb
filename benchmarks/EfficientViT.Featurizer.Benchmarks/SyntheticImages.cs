using Microsoft.ML.Data;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Decoded 224x224 images for the pipelines. ML.NET releases an image once a pipeline has read it, so
/// every pass makes new <see cref="MLImage"/>s from the same pixel buffers, before its timing starts.
/// </summary>
internal sealed class SyntheticImages(int distinct, int side, int seed)
{
    private readonly byte[][] pixels = Enumerable.Range(0, distinct).Select(i => Make(side, seed + i)).ToArray();

    public int Side => side;

    public IEnumerable<ImageRow> Rows(int count)
    {
        for (var i = 0; i < count; i++)
            yield return new ImageRow { Image = MLImage.CreateFromPixels(side, side, MLPixelFormat.Rgba32, pixels[i % pixels.Length]) };
    }

    // Smooth gradients plus noise: content like a photo's, not a constant the codecs could shortcut.
    private static byte[] Make(int side, int seed)
    {
        var random = new Random(seed);
        var data = new byte[side * side * 4];
        for (var y = 0; y < side; y++)
            for (var x = 0; x < side; x++)
            {
                var i = (y * side + x) * 4;
                data[i] = (byte)((x * 255 / side + random.Next(40)) & 255);
                data[i + 1] = (byte)((y * 255 / side + random.Next(40)) & 255);
                data[i + 2] = (byte)(((x + y) * 127 / side + random.Next(40)) & 255);
                data[i + 3] = 255;
            }
        return data;
    }
}

/// <summary>A row holding one decoded image.</summary>
public sealed class ImageRow
{
    [Microsoft.ML.Transforms.Image.ImageType(224, 224)]
    public MLImage? Image { get; set; }
}
