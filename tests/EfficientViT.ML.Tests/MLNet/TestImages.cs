using Microsoft.ML.Data;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>Image files and rows the featurizer tests make for themselves.</summary>
internal static class TestImages
{
    public static readonly string[] ColorClasses = ["red", "green", "blue"];

    /// <summary>RGBA pixels of a noisy image whose dominant channel is the class's color.</summary>
    public static byte[] NoisyColorPixels(int width, int height, int colorClass, Random random)
    {
        var pixels = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
        {
            for (var c = 0; c < 3; c++)
                pixels[i * 4 + c] = (byte)(c == colorClass ? 150 + random.Next(100) : random.Next(110));
            pixels[i * 4 + 3] = 255;
        }
        return pixels;
    }

    /// <summary>Writes <paramref name="perClass"/> PNGs per color class and returns their rows.</summary>
    public static List<ImageRow> WriteColorImages(string folder, int perClass, int size, int seed)
    {
        var random = new Random(seed);
        var rows = new List<ImageRow>();
        for (var i = 0; i < perClass; i++)
        {
            for (var label = 0; label < ColorClasses.Length; label++)
            {
                var path = Path.Combine(folder, $"{ColorClasses[label]}_{seed}_{i}.png");
                using var image = MLImage.CreateFromPixels(size, size, MLPixelFormat.Rgba32, NoisyColorPixels(size, size, label, random));
                image.Save(path);
                rows.Add(new ImageRow { ImagePath = path, Label = ColorClasses[label] });
            }
        }
        return rows;
    }

    /// <summary>Runs tests/FreshProcess (ML.NET only, no EfficientViT.ML) on a saved model; returns (label, features) per image.</summary>
    public static List<(string Label, float[] Features)> RunInFreshProcess(string modelZip, IEnumerable<string> imagePaths, string workFolder, string featureColumn = "Features", string? registerAssembly = null)
    {
        var executable = ChildProgram.Built("tests/FreshProcess", "FreshProcess");
        var list = Path.Combine(workFolder, "images.txt");
        var output = Path.Combine(workFolder, "fresh-output.tsv");
        File.WriteAllLines(list, imagePaths);

        var arguments = new List<string> { modelZip, list, output, featureColumn, "PredictedLabel" };
        if (registerAssembly is not null)
            arguments.Add(registerAssembly);
        var (exitCode, stdout, stderr) = ChildProgram.Run("the fresh process", executable, arguments, TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, $"the fresh process failed ({exitCode}): {stderr}{stdout}");

        return File.ReadAllLines(output).Select(line =>
        {
            var parts = line.Split('\t');
            return (parts[0], parts[1].Split(',').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        }).ToList();
    }
}

public sealed class ImageRow
{
    public string ImagePath { get; set; } = "";

    public string Label { get; set; } = "";
}
