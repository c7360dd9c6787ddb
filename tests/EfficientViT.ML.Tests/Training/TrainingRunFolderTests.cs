using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using EfficientViT.Reporting;

namespace EfficientViT.ML.Tests.Training;

// Each test leaves a run folder in the state a killed or failed process leaves, then checks what the next run finds.
[Collection(TorchGlobalStateCollection.Name)]
public class TrainingRunFolderTests
{
    private static EpochSummary Epoch(int index, double top1) => new(index, 1.0 / (index + 1), 0.5, top1, 1.0, 1e-3, 100, 2);

    private static TrainingState State(int epochsDone, int bestEpoch) =>
        new() { Epoch = epochsDone, Step = epochsDone * 6L, BestTop1 = 0.5, BestEpoch = bestEpoch, Seed = 5 };

    private static void WithModel(Action<EfficientVit, AdamWWithGroups, CheckpointMetadata> test)
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, 32, 3);
        using var optimizer = OptimizerFactory.CreateAdamW(model, TrainingRecipe.ForSmallData(2, 8));
        test(model, optimizer, CheckpointMetadata.FromConfig(model.Config));
    }

    [Fact]
    public void A_kill_after_last_is_written_is_repaired_best_metrics_and_curves_follow_last()
    {
        using var dir = new TempDirectory();
        WithModel((model, optimizer, metadata) =>
        {
            var run = new TrainingRunFolder(dir.Path) { Chart = SvgCharts.TrainingCurves };
            run.Save(model, metadata, optimizer.Optimizer, null, State(1, bestEpoch: 1), [Epoch(0, 0.4)]);
            // Epoch 2 reaches a new best; the process dies right after last/ is swapped in.
            TrainingCheckpoint.Save(run.LastPath, model, metadata, optimizer.Optimizer, null, State(2, bestEpoch: 2), [Epoch(0, 0.4), Epoch(1, 0.5)]);
            Assert.Equal(1, TrainingCheckpoint.ReadState(run.BestPath)!.Epoch);

            new TrainingRunFolder(dir.Path) { Chart = SvgCharts.TrainingCurves }.Repair();

            Assert.Equal(2, TrainingCheckpoint.ReadState(run.BestPath)!.Epoch);
            Assert.Equal(File.ReadAllBytes(run.LastModelPath), File.ReadAllBytes(run.BestModelPath));
            Assert.Equal(3, File.ReadAllLines(run.MetricsPath).Length);
            Assert.Contains("<svg", File.ReadAllText(run.CurvesPath));
        });
    }

    [Fact]
    public void A_failed_write_removes_its_staging_folder_and_keeps_the_previous_checkpoint()
    {
        using var dir = new TempDirectory();
        WithModel((model, optimizer, metadata) =>
        {
            var run = new TrainingRunFolder(dir.Path);
            run.Save(model, metadata, optimizer.Optimizer, null, State(1, bestEpoch: 1), [Epoch(0, 0.4)]);
            var saved = File.ReadAllBytes(Path.Combine(run.LastPath, "state.json"));

            run.AfterFileWritten = file => { if (file == TrainingCheckpoint.ModelFile) throw new IOException("No space left on device"); };
            Assert.Throws<IOException>(() => run.Save(model, metadata, optimizer.Optimizer, null, State(2, bestEpoch: 1), [Epoch(0, 0.4), Epoch(1, 0.3)]));

            Assert.False(Directory.Exists(run.LastPath + ".writing"), "the partial checkpoint was left behind");
            Assert.Equal(saved, File.ReadAllBytes(Path.Combine(run.LastPath, "state.json")));
            Assert.Equal(2, File.ReadAllLines(run.MetricsPath).Length);
        });
    }

    [Fact]
    public void Repair_removes_what_a_kill_during_a_write_left_and_puts_back_a_checkpoint_moved_aside()
    {
        using var dir = new TempDirectory();
        WithModel((model, optimizer, metadata) =>
        {
            var run = new TrainingRunFolder(dir.Path);
            run.Save(model, metadata, optimizer.Optimizer, null, State(1, bestEpoch: 1), [Epoch(0, 0.4)]);
            Directory.CreateDirectory(run.LastPath + ".writing");
            File.WriteAllText(Path.Combine(run.LastPath + ".writing", TrainingCheckpoint.ModelFile), "partial");
            File.WriteAllText(Path.Combine(dir.Path, ".metrics.csv.0123.tmp"), "partial");
            // Killed between the two renames of a swap: the complete checkpoint sits under .previous.
            Directory.Move(run.BestPath, run.BestPath + ".previous");

            run.Repair();

            Assert.False(Directory.Exists(run.LastPath + ".writing"));
            Assert.False(File.Exists(Path.Combine(dir.Path, ".metrics.csv.0123.tmp")));
            Assert.Equal(1, TrainingCheckpoint.ReadState(run.BestPath)!.Epoch);
            Assert.False(Directory.Exists(run.BestPath + ".previous"));
        });
    }

    [Fact]
    public void Resuming_a_folder_without_a_checkpoint_is_an_error_naming_the_folder()
    {
        using var dir = new TempDirectory();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, 32, 10);
        var data = FashionMnistDataset.FromArrays(new byte[8 * 16], new byte[8], 8, 4, 4);
        var trainer = new EfficientVitTrainer(model, TrainingRecipe.ForSmallData(1, 8), new TrainerOptions { OutputDirectory = dir.Path, Resume = true, Workers = 1 }, CheckpointMetadata.FromConfig(model.Config));
        var error = Assert.Throws<InvalidOperationException>(() => trainer.Train(data, null, ImageTransform.FashionMnist(32, true), ImageTransform.FashionMnist(32, false)));
        Assert.Contains(dir.Path, error.Message);
        Assert.Contains("no training checkpoint", error.Message);
    }

    [Fact]
    public void An_output_path_that_is_a_file_is_refused_before_training()
    {
        using var dir = new TempDirectory();
        var file = dir.File("not-a-folder");
        File.WriteAllText(file, "");
        var error = Assert.Throws<IOException>(() => new TrainerOptions { OutputDirectory = file }.Validate());
        Assert.Contains("is a file", error.Message);
    }

    [Theory]
    [InlineData("Threads", 0)]
    [InlineData("Workers", 0)]
    [InlineData("MaxSteps", 0)]
    public void Trainer_options_out_of_range_are_refused_before_any_native_call(string name, int value)
    {
        var options = name switch
        {
            "Threads" => new TrainerOptions { Threads = value },
            "Workers" => new TrainerOptions { Workers = value },
            _ => new TrainerOptions { MaxSteps = value },
        };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.StartsWith($"{name} = {value}:", error.Message);
    }
}
