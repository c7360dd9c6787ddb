using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML;
using Microsoft.ML.Data;
using TorchSharp;

namespace EfficientViT.ML.Tests.MLNet;

/// <summary>A serving process that references no libtorch package loads a zip with batched scoring, without libtorch, and gets the fitted features.</summary>
[Collection(TorchGlobalStateCollection.Name)]
public class ServingProcessTests
{
    [Fact]
    public void A_process_without_libtorch_loads_a_zip_with_batched_scoring_and_gets_the_fitted_features_without_mapping_libtorch()
    {
        using var dir = new TempDirectory();
        var rows = TestImages.WriteColorImages(dir.Path, perClass: 3, size: 72, seed: 51);
        torch.manual_seed(3);
        using var model = new EfficientVit(new EfficientVitConfig([16, 32, 48], [1, 1, 1], [2, 2, 2], [5, 5, 5, 5], ImageSize: 64, NumClasses: 0));
        model.eval();
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(ImageRow.ImagePath))
            .Append(mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model, BatchSize = 4 }));
        var fitted = pipeline.Fit(data);
        var expected = fitted.Transform(data).GetColumn<float[]>("Features").ToList();
        // The serving process loads the images itself: the zip holds the featurizer alone.
        var zip = Path.Combine(dir.Path, "featurizer.zip");
        mlContext.Model.Save(fitted.LastTransformer, null, zip);
        fitted.Dispose();

        var (exitCode, stdout, stderr, lines) = Run(zip, rows.Select(r => r.ImagePath), dir.Path);

        Assert.True(exitCode == 0, $"exit code {exitCode}; libtorch libraries mapped: {stdout}; stderr: {stderr}");
        Assert.Equal(rows.Count, lines.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(expected[i], lines[i].Batched);
            Assert.Equal(expected[i], lines[i].Single);
        }
    }

    private static (int ExitCode, string Stdout, string Stderr, List<(float[] Batched, float[] Single)> Lines) Run(string zip, IEnumerable<string> images, string workFolder)
    {
        var executable = ChildProgram.Built("tests/ServingProcess", "ServingProcess");
        var folder = Path.GetDirectoryName(executable)!;
        Assert.False(Directory.EnumerateFiles(folder, "libtorch*.so", SearchOption.AllDirectories).Any(), $"{folder} holds libtorch: the serving process must reference no libtorch package");
        var list = Path.Combine(workFolder, "serving-images.txt");
        var output = Path.Combine(workFolder, "serving-output.tsv");
        File.WriteAllLines(list, images);
        var (exitCode, stdout, stderr) = ChildProgram.Run("the serving process", executable, [zip, list, output], TimeSpan.FromMinutes(3));
        var lines = exitCode == 0
            ? File.ReadAllLines(output).Select(line => line.Split('\t').Select(Parse).ToArray()).Select(p => (p[0], p[1])).ToList()
            : [];
        return (exitCode, stdout, stderr, lines);
    }

    private static float[] Parse(string vector) => vector.Split(',').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
}
