using EfficientViT.ML.Data;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.Data;

/// <summary>A small data set held in memory; optionally, reading one index throws.</summary>
internal sealed class InMemoryDataset(IReadOnlyList<ImageSample> samples, IReadOnlyList<string> classNames, int failingIndex = -1) : IImageDataset
{
    public int Count => samples.Count;

    public IReadOnlyList<string> ClassNames => classNames;

    public ImageSample Get(int index)
    {
        if (index == failingIndex)
            throw new InvalidDataException($"cannot decode image '/data/broken-{index}.png': test failure");
        var sample = samples[index];
        return sample.WithPixels((byte[])sample.Pixels.Clone(), sample.Width, sample.Height);
    }

    public int LabelOf(int index) => samples[index].Label;

    /// <summary>Samples with labels from <paramref name="labels"/> and pixels that differ between samples.</summary>
    public static InMemoryDataset WithLabels(int[] labels, int classes, int width = 6, int height = 5, int channels = 3, int failingIndex = -1)
    {
        var samples = labels.Select((label, i) =>
        {
            var pixels = new byte[width * height * channels];
            for (var p = 0; p < pixels.Length; p++)
                pixels[p] = (byte)((i * 37 + p * 11) % 256);
            return new ImageSample(pixels, width, height, channels, label, $"memory #{i}");
        }).ToList();
        return new InMemoryDataset(samples, Enumerable.Range(0, classes).Select(c => $"class{c}").ToList(), failingIndex);
    }
}

internal static class DataTestImages
{
    /// <summary>Writes a PNG of one RGB colour (PNG is lossless, so decoding gives the colour back exactly).</summary>
    public static string WriteSolidPng(string path, int width, int height, byte r, byte g, byte b)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var rgba = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
        {
            rgba[4 * i] = r;
            rgba[4 * i + 1] = g;
            rgba[4 * i + 2] = b;
            rgba[4 * i + 3] = 255;
        }
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, rgba);
        image.Save(path);
        return path;
    }

    /// <summary>Writes bytes that no decoder accepts, under an image file name.</summary>
    public static string WriteCorrupt(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        return path;
    }
}
