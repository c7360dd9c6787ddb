using System.Text.Json;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Checkpoints.Pretrained;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Prediction;
using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.CommandLine;

/// <summary><c>efficientvit predict</c> and <see cref="ImagePredictor"/> on fixture images with fixture checkpoints.</summary>
public sealed class PredictCommandTests : IDisposable
{
    private static readonly byte[] Orange = [200, 100, 50];
    private static readonly string OfficialM0 = TestFiles.OfficialM0("efficientvit_m0.pth");

    private readonly TempDirectory folder = new();

    public void Dispose() => folder.Dispose();

    // A uniform image: whatever the resize and crop, every input value is (colour / 255 - mean) / std.
    private string WriteUniformImage(string name, int width = 300, int height = 200)
    {
        var pixels = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
            (pixels[4 * i], pixels[4 * i + 1], pixels[4 * i + 2], pixels[4 * i + 3]) = (Orange[0], Orange[1], Orange[2], 255);
        var path = folder.File(name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var image = MLImage.CreateFromPixels(width, height, MLPixelFormat.Rgba32, pixels);
        image.Save(path);
        return path;
    }

    // The top classes computed by hand: the normalized uniform input, the model's logits, softmax, sorted.
    private static (int Index, float Probability)[] ExpectedTop(string checkpoint, int top)
    {
        using var loaded = EfficientVitCheckpoint.Load(checkpoint);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var side = loaded.Metadata.ImageSize;
        var input = zeros(1, 3, side, side);
        for (var c = 0; c < 3; c++)
            input[0, c].fill_((Orange[c] / 255f - mean[c]) / std[c]);
        var probabilities = loaded.Model.forward(input).softmax(1)[0].data<float>().ToArray();
        return probabilities.Select((p, i) => (i, p)).OrderByDescending(x => x.p).Take(top).ToArray();
    }

    [Fact]
    public void The_predictor_gives_the_hand_computed_top_classes_with_ImageNet_names()
    {
        var image = WriteUniformImage("orange.png");
        using var loaded = EfficientVitCheckpoint.Load(OfficialM0);
        var predictions = new ImagePredictor(loaded).Predict(image, top: 5);
        var expected = ExpectedTop(OfficialM0, 5);
        Assert.Equal(expected.Select(e => e.Index), predictions.Select(p => p.Index));
        foreach (var (prediction, (index, probability)) in predictions.Zip(expected))
        {
            Assert.Equal(probability, prediction.Probability, 1e-4);
            Assert.Equal(ImageNetClasses.Names[index], prediction.Name);
        }
    }

    [Fact]
    public void ImageNet_class_names_are_the_thousand_synsets_in_sorted_order()
    {
        Assert.Equal(1000, ImageNetClasses.Names.Count);
        Assert.Equal(ImageNetClasses.SynsetIds.Order(StringComparer.Ordinal), ImageNetClasses.SynsetIds);
        Assert.Equal(1000, ImageNetClasses.SynsetIds.Distinct().Count());
        // Known entries of the ILSVRC-2012 index: the first, the cat classes, the last.
        Assert.Equal(("n01440764", "tench, Tinca tinca"), (ImageNetClasses.SynsetIds[0], ImageNetClasses.Names[0]));
        Assert.Equal("tabby, tabby cat", ImageNetClasses.Names[281]);
        Assert.Equal(("n15075141", "toilet tissue, toilet paper, bathroom tissue"), (ImageNetClasses.SynsetIds[999], ImageNetClasses.Names[999]));
    }

    [Fact]
    public void Predict_writes_one_json_object_per_image_and_reports_unreadable_ones()
    {
        var first = WriteUniformImage("images/a.png");
        var second = WriteUniformImage("images/sub/b.png", 120, 260);
        File.WriteAllBytes(folder.File("images/broken.jpg"), [0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3]);
        File.WriteAllText(folder.File("images/notes.txt"), "not an image");

        var (exitCode, errors, output) = EfficientVitProcess.Run("predict", folder.File("images"), "--weights", OfficialM0, "--top", "3", "--json");

        Assert.Equal(0, exitCode);
        var skipped = Assert.Single(errors);
        Assert.StartsWith($"skipping unreadable image '{folder.File("images/broken.jpg")}':", skipped);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var expected = ExpectedTop(OfficialM0, 3);
        foreach (var (line, image) in lines.Zip([first, second]))
        {
            using var json = JsonDocument.Parse(line);
            Assert.Equal(image, json.RootElement.GetProperty("image").GetString());
            var predictions = json.RootElement.GetProperty("predictions").EnumerateArray().ToArray();
            Assert.Equal(expected.Select(e => e.Index), predictions.Select(p => p.GetProperty("index").GetInt32()));
            Assert.Equal(expected.Select(e => ImageNetClasses.Names[e.Index]), predictions.Select(p => p.GetProperty("class").GetString()));
            foreach (var (p, e) in predictions.Zip(expected))
                Assert.Equal(e.Probability, p.GetProperty("probability").GetSingle(), 1e-4);
        }
    }

    [Fact]
    public void Predict_uses_the_checkpoint_class_names()
    {
        var checkpoint = folder.File("colours.safetensors");
        manual_seed(3);
        using (var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 3))
            EfficientVitCheckpoint.Save(model, checkpoint, CheckpointMetadata.FromConfig(model.Config) with { ClassNames = ["red", "green", "blue"] });
        var image = WriteUniformImage("orange.png");

        var (exitCode, errors, output) = EfficientVitProcess.Run("predict", image, "--weights", checkpoint, "--top", "2");

        Assert.True(exitCode == 0, string.Join('\n', errors));
        var expected = ExpectedTop(checkpoint, 2);
        var names = new[] { "red", "green", "blue" };
        Assert.Equal($"{image}: " + string.Join("; ", expected.Select(e => $"{e.Probability:P1} {names[e.Index]} ({e.Index})")), output.Trim());
    }

    [Fact]
    public void Commands_take_a_name_from_the_cache_offline_and_say_what_is_missing()
    {
        var home = Directory.CreateDirectory(folder.File("home")).FullName;
        var offline = new Dictionary<string, string?>
        {
            [PretrainedWeightsOptions.HomeVariable] = home,
            [PretrainedWeightsOptions.OfflineVariable] = "1",
            [PretrainedWeightsOptions.MirrorVariable] = null,
        };

        var missing = EfficientVitProcess.Run(offline, "info", "m0");
        Assert.Equal(1, missing.ExitCode);
        var error = Assert.Single(missing.Errors);
        Assert.Equal($"error: m0 (https://github.com/xinyuliu-jeffrey/EfficientViT_Model_Zoo/releases/download/v1.0/efficientvit_m0.pth): not in the cache ({Path.Combine(home, "efficientvit_m0.pth")}) " +
            "and EFFICIENTVIT_OFFLINE=1 forbids downloading it; copy efficientvit_m0.pth there from a machine that has it (`efficientvit weights download m0`) or install its weights package", error);
        Assert.Empty(Directory.GetFileSystemEntries(home));

        File.Copy(OfficialM0, Path.Combine(home, "efficientvit_m0.pth"));
        var info = EfficientVitProcess.Run(offline, "info", "--weights", "m0");
        Assert.True(info.ExitCode == 0, string.Join('\n', info.Errors));
        Assert.Contains("variant:     EfficientViT-M0", info.Output);
        var onnx = folder.File("m0.onnx");
        var export = EfficientVitProcess.Run(offline, "export", "M0", "-o", onnx, "--features-only");
        Assert.True(export.ExitCode == 0, string.Join('\n', export.Errors));
        Assert.True(File.Exists(onnx));
        var predict = EfficientVitProcess.Run(offline, "predict", WriteUniformImage("orange.png"));
        Assert.True(predict.ExitCode == 0, string.Join('\n', predict.Errors));
        Assert.Equal(5, predict.Output.Trim().Split("; ").Length);

        var unknown = EfficientVitProcess.Run(offline, "finetune", "--weights", "m9", "--data", folder.Path);
        Assert.Equal(1, unknown.ExitCode);
        Assert.StartsWith("error: m9: neither a file nor a pretrained name; the names are m0, m1, m2, m3, m4, m5, efficientvit_m0.r224_in1k,", Assert.Single(unknown.Errors));
        var both = EfficientVitProcess.Run(offline, "info", "m0", "--weights", "m1");
        Assert.StartsWith("error: info: give the checkpoint once", Assert.Single(both.Errors));
    }
}
