using EfficientViT.ML.Tests.MLNet;

namespace EfficientViT.ML.Tests.CommandLine;

// The efficientvit command line as a user meets it: a mistake ends in exit code 1 and one "error:" line, before any training.
public class CommandLineErrorTests
{
    private static (int ExitCode, string[] Errors, string Output) Run(params string[] arguments) => EfficientVitProcess.Run(arguments);

    private static void AssertOneErrorLine((int ExitCode, string[] Errors, string Output) result, params string[] expected)
    {
        Assert.True(result.ExitCode == 1, $"exit code {result.ExitCode}: {string.Join("\n", result.Errors)}{result.Output}");
        var line = Assert.Single(result.Errors);
        Assert.StartsWith("error: ", line);
        foreach (var text in expected)
            Assert.Contains(text, line);
        Assert.DoesNotContain("training EfficientViT", result.Output);
    }

    private static string ImageFolder(TempDirectory dir)
    {
        var root = dir.File("images");
        foreach (var (name, index) in TestImages.ColorClasses.Select((n, i) => (n, i)))
        {
            Directory.CreateDirectory(Path.Combine(root, name));
            TestImages.WriteColorImages(Path.Combine(root, name), perClass: 1, size: 16, seed: index);
        }
        return root;
    }

    [Fact]
    public void Eval_compares_exported_float_and_int8_classifiers_and_refuses_a_graph_without_logits()
    {
        using var dir = new TempDirectory();
        var images = ImageFolder(dir);
        using var model = EfficientViT.ML.Modeling.EfficientVit.Create(EfficientViT.ML.Modeling.EfficientVitVariant.M0, imageSize: 64, numClasses: 3);
        model.eval();
        var random = new Random(0);
        var calibration = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 3 * 64 * 64).Select(_ => (float)random.NextDouble() - 0.5f).ToArray()).ToArray();
        var floatPath = dir.File("m0.onnx");
        var int8Path = dir.File("m0-int8.onnx");
        var featuresPath = dir.File("m0-features.onnx");
        EfficientViT.ML.Onnx.EfficientVitOnnxExporter.Export(model, floatPath);
        EfficientViT.ML.Onnx.EfficientVitOnnxExporter.Export(model, int8Path, new EfficientViT.ML.Onnx.OnnxExportOptions
        {
            Int8 = new EfficientViT.ML.Onnx.OnnxInt8Options { Calibration = EfficientViT.ML.Onnx.Int8Calibrator.Calibrate(model, calibration) },
        });
        EfficientViT.ML.Onnx.EfficientVitOnnxExporter.Export(model, featuresPath, new EfficientViT.ML.Onnx.OnnxExportOptions { IncludeLogits = false });

        var (exitCode, errors, output) = Run("eval", "--onnx", floatPath, "--onnx", int8Path, "--data", images);
        Assert.True(exitCode == 0, $"exit code {exitCode}: {string.Join("\n", errors)}{output}");
        Assert.Contains("9 images of", output);
        Assert.Contains("m0.onnx (float32)", output);
        Assert.Contains("m0-int8.onnx (int8 (QDQ, Percentile calibration, weights of seven bits, ±63))", output);
        Assert.Contains("points against m0.onnx (float32)", output);

        AssertOneErrorLine(Run("eval", "--onnx", featuresPath, "--data", images), "m0-features.onnx", "has no 'logits' output", "--features-only");
    }

    [Fact]
    public void Export_int8_measures_the_graph_on_held_out_images_and_refuses_it_below_the_target()
    {
        using var dir = new TempDirectory();
        var checkpoint = TestFiles.OfficialM0("efficientvit_m0.pth");
        var images = dir.File("calibration");
        foreach (var (name, index) in TestImages.ColorClasses.Select((n, i) => (n, i)))
        {
            Directory.CreateDirectory(Path.Combine(images, name));
            TestImages.WriteColorImages(Path.Combine(images, name), perClass: 2, size: 16, seed: index);
        }
        // Each call writes an image of every colour per "class": 3 folders × 2 × 3 = 18 images, every fifth held out.
        var output = dir.File("m0-int8.onnx");

        // The official-m0 fixture (random weights, perturbed BatchNorm statistics) stays below the default target.
        AssertOneErrorLine(Run("export", checkpoint, "-o", output, "--int8", "--calibration", images, "--int8-no-repair"),
            "No int8 graph kept the float32 features", "on 3 images held out of the calibration (15 calibration images)", "plain: mean cosine");
        Assert.False(File.Exists(output));

        var (exitCode, errors, printed) = Run("export", checkpoint, "-o", output, "--int8", "--calibration", images, "--int8-no-repair", "--int8-accept-below-target");
        Assert.True(exitCode == 0, $"exit code {exitCode}: {string.Join("\n", errors)}{printed}");
        Assert.Contains("int8 against float32 on 3 held-out images (calibrated on 15)", printed);
        Assert.Contains(errors, line => line.StartsWith("warning: the int8 graph is below the target", StringComparison.Ordinal));
        Assert.Contains("efficientvit.int8_quality", System.Text.Encoding.UTF8.GetString(File.ReadAllBytes(output)));

        AssertOneErrorLine(Run("export", checkpoint, "-o", dir.File("few.onnx"), "--int8", "--calibration", ImageFolder(dir)),
            "at least 16 distinct images", "of the 9 given, 9 qualify");
    }

    [Theory]
    [InlineData("--threads", "0", "must be at least 1")]
    [InlineData("--batch-size", "0", "must be at least 1")]
    [InlineData("--max-steps", "0", "must be at least 1")]
    [InlineData("--epochs", "0", "must be at least 1")]
    [InlineData("--workers", "0", "must be at least 1")]
    [InlineData("--lr", "-1", "must be positive")]
    [InlineData("--validation-split", "1.5", "must be in [0, 1)")]
    [InlineData("--image-size", "50", "multiple of 16")]
    [InlineData("--start-image-size", "40", "multiple of 16 from 32")]
    public void A_number_out_of_range_is_one_error_line_naming_the_option_and_the_value(string option, string value, string rule)
    {
        using var dir = new TempDirectory();
        AssertOneErrorLine(Run("train", "--data", ImageFolder(dir), "--output", dir.File("run"), option, value), $"{option} {value}", rule);
    }

    [Fact]
    public void A_resolution_schedule_without_epochs_before_the_full_size_or_not_below_it_is_one_error_line()
    {
        using var dir = new TempDirectory();
        var data = ImageFolder(dir);
        AssertOneErrorLine(Run("train", "--data", data, "--output", dir.File("run"), "--epochs", "3", "--start-image-size", "32", "--full-size-epochs", "3"),
            "--full-size-epochs 3", "less than --epochs (3)");
        AssertOneErrorLine(Run("train", "--data", data, "--output", dir.File("run2"), "--image-size", "64", "--epochs", "3", "--start-image-size", "64", "--full-size-epochs", "1"),
            "StartImageSize = 64", "below the model's 64x64");
    }

    [Fact]
    public void A_time_budget_that_is_no_duration_or_goes_with_a_resolution_schedule_is_one_error_line()
    {
        using var dir = new TempDirectory();
        var data = ImageFolder(dir);
        AssertOneErrorLine(Run("train", "--data", data, "--output", dir.File("run"), "--time-budget", "5x"), "--time-budget '5x'", "1h30m");
        AssertOneErrorLine(Run("train", "--data", data, "--output", dir.File("run2"), "--time-budget", "2m", "--epochs", "4", "--start-image-size", "32"),
            "--start-image-size 32", "not both");
    }

    [Fact]
    public void A_data_folder_without_class_folders_is_one_error_line_naming_it()
    {
        using var dir = new TempDirectory();
        var flat = dir.File("flat");
        Directory.CreateDirectory(flat);
        TestImages.WriteColorImages(flat, perClass: 1, size: 16, seed: 0);
        AssertOneErrorLine(Run("train", "--data", flat, "--output", dir.File("run")), flat, "no class folders");
    }

    [Fact]
    public void A_class_folder_of_non_image_files_is_one_error_line_naming_it()
    {
        using var dir = new TempDirectory();
        var root = dir.File("texts");
        Directory.CreateDirectory(Path.Combine(root, "a"));
        File.WriteAllText(Path.Combine(root, "a", "notes.txt"), "not an image");
        AssertOneErrorLine(Run("train", "--data", root, "--output", dir.File("run")), Path.Combine(root, "a"), "no image files");
    }

    [Fact]
    public void An_output_path_that_is_a_file_is_refused_before_training()
    {
        using var dir = new TempDirectory();
        var file = dir.File("run.txt");
        File.WriteAllText(file, "");
        AssertOneErrorLine(Run("train", "--data", ImageFolder(dir), "--output", file), file, "is a file");
    }

    [Fact]
    public void Resume_without_a_checkpoint_is_an_error_naming_the_folder()
    {
        using var dir = new TempDirectory();
        var output = dir.File("run");
        AssertOneErrorLine(Run("train", "--data", ImageFolder(dir), "--output", output, "--resume"), output, "no training checkpoint");
    }

    // Today's default is bicubic; a run started bilinear goes on bilinear when resumed, and refuses to be switched.
    [Fact]
    public void Resume_keeps_the_run_s_interpolation_and_refuses_another_naming_both_and_the_folder()
    {
        using var dir = new TempDirectory();
        var output = dir.File("run");
        string[] train = ["train", "--data", ImageFolder(dir), "--validation-split", "0", "--image-size", "32", "--epochs", "1", "--batch-size", "4", "--threads", "1", "--workers", "1", "--output", output];
        var (exitCode, errors, printed) = Run([.. train, "--interpolation", "Bilinear", "--max-steps", "1"]);
        Assert.True(exitCode == 0, $"exit code {exitCode}: {string.Join("\n", errors)}{printed}");
        var run = new EfficientViT.ML.Training.TrainingRunFolder(output);

        AssertOneErrorLine(Run([.. train, "--resume", "--interpolation", "Bicubic"]), output, "was trained resizing with bilinear", "asks for bicubic");

        (exitCode, errors, printed) = Run([.. train, "--resume"]);
        Assert.True(exitCode == 0, $"exit code {exitCode}: {string.Join("\n", errors)}{printed}");
        Assert.Equal(2, EfficientViT.ML.Training.TrainingCheckpoint.ReadState(run.LastPath)!.Step);
        Assert.Equal(EfficientViT.ML.Preprocessing.ImageInterpolation.Bilinear, EfficientViT.ML.Training.TrainingCheckpoint.ReadMetadata(run.LastPath)!.Preprocessing.Interpolation);
    }

    [Fact]
    public void Bench_names_the_machine_and_times_float32_and_int8_graphs()
    {
        var (exitCode, errors, output) = Run("bench", "--no-training", "--seconds", "0.05", "--threads", "1");

        Assert.True(exitCode == 0, $"exit code {exitCode}: {string.Join("\n", errors)}{output}");
        Assert.Contains($"{Environment.ProcessorCount} logical processors", output);
        Assert.Contains("peak: the process's peak resident memory during each measurement", output);
        var batchLines = output.Split('\n').Where(line => line.TrimStart().StartsWith("batch", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, batchLines.Length);
        // Each line: TorchSharp, ONNX Runtime and ONNX Runtime int8 rates, int8's ratio to float32, and each one's peak (Linux).
        Assert.All(batchLines, line => Assert.Matches(@"TorchSharp +\d+\.\d, +\d+ MiB +ONNX Runtime +\d+\.\d, +\d+ MiB +ONNX Runtime int8 +\d+\.\d \(\d+\.\d\dx\), +\d+ MiB", line));
    }

    [Theory]
    [InlineData("--threads", "0", "must be at least 1")]
    [InlineData("--seconds", "0", "must be positive")]
    [InlineData("--training-size", "50", "multiple of 16")]
    public void Bench_refuses_an_option_out_of_range_in_one_error_line(string option, string value, string rule) =>
        AssertOneErrorLine(Run("bench", option, value), rule);
}
