using System.Diagnostics;
using EfficientViT.Service;
using Microsoft.ML.Data;

namespace EfficientViT.Service.LoadTest;

/// <summary>
/// Scoring cost without HTTP, on one thread: milliseconds per image for a PredictionEngine and for one
/// Transform call over batches of several sizes, the configurations alternating so that both see the same load.
/// </summary>
public static class DirectScoring
{
    /// <summary>Prints a Markdown table row per model: ms per image for the engine and each batch size.</summary>
    public static void Print(IReadOnlyList<(string Name, ImageClassifier Model)> models, IReadOnlyList<byte[]> files, int[] batchSizes, int imagesPerMeasurement, int rounds)
    {
        Console.WriteLine($"| model (one thread, no HTTP; ms per image, best of {rounds}) | PredictionEngine | " + string.Join(" | ", batchSizes.Select(b => $"Transform of {b}")) + " |");
        Console.WriteLine("|---|---|" + string.Concat(batchSizes.Select(_ => "---|")));
        foreach (var (name, model) in models)
        {
            var engine = model.CreateEngine();
            var best = new double[batchSizes.Length + 1];
            Array.Fill(best, double.MaxValue);
            for (var round = 0; round < rounds; round++)
            {
                best[0] = Math.Min(best[0], Time(imagesPerMeasurement, files, images =>
                {
                    foreach (var image in images)
                        engine.Predict(new ImageInput { Image = image });
                }));
                for (var b = 0; b < batchSizes.Length; b++)
                {
                    var size = batchSizes[b];
                    best[b + 1] = Math.Min(best[b + 1], Time(imagesPerMeasurement, files, images =>
                    {
                        for (var start = 0; start < images.Length; start += size)
                            model.ScoreBatch(images[start..Math.Min(images.Length, start + size)]);
                    }));
                }
            }
            Console.WriteLine($"| {name} | " + string.Join(" | ", best.Select(ms => ms.ToString("F2"))) + " |");
        }
    }

    // Decoding is outside the timed part; the images are disposed by the Transform cursors or here.
    private static double Time(int count, IReadOnlyList<byte[]> files, Action<MLImage[]> score)
    {
        var images = Enumerable.Range(0, count).Select(i => MLImage.CreateFromStream(new MemoryStream(files[i % files.Count]))).ToArray();
        var clock = Stopwatch.StartNew();
        score(images);
        var ms = clock.Elapsed.TotalMilliseconds / count;
        foreach (var image in images)
            image.Dispose();
        return ms;
    }
}
