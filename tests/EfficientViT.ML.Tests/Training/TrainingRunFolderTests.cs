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
    public void A_locked_run_folder_refuses_a_second_lock_naming_the_holder_until_it_is_released()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "run");
        var run = new TrainingRunFolder(path);
        // Checking a folder that does not exist yet does not make it.
        run.ThrowIfInUse();
        Assert.False(Directory.Exists(path));

        using (run.Lock())
        {
            Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(Path.Combine(path, ".lock.owner")));
            var error = Assert.Throws<IOException>(() => new TrainingRunFolder(path).Lock());
            Assert.Equal($"run folder {path} in use by process {Environment.ProcessId}: two processes cannot write into one run folder.", error.Message);
            Assert.Equal(error.Message, Assert.Throws<IOException>(run.ThrowIfInUse).Message);
        }

        Assert.False(File.Exists(Path.Combine(path, ".lock.owner")));
        run.ThrowIfInUse();
        run.Lock().Dispose();
    }

    [Fact]
    public void Resuming_a_last_folder_with_a_state_but_no_weights_says_what_it_lacks()
    {
        using var dir = new TempDirectory();
        var run = new TrainingRunFolder(dir.Path);
        Directory.CreateDirectory(run.LastPath);
        File.WriteAllText(Path.Combine(run.LastPath, "state.json"), State(1, 1).ToJson());

        var error = Assert.Throws<InvalidOperationException>(run.RequireCheckpoint);
        Assert.Equal($"{dir.Path}: no complete training checkpoint to resume from: {run.LastPath} has state.json but no model.safetensors.", error.Message);

        File.Delete(Path.Combine(run.LastPath, "state.json"));
        Assert.EndsWith($"{run.LastPath} has neither state.json nor model.safetensors.", Assert.Throws<InvalidOperationException>(run.RequireCheckpoint).Message);
    }

    [Fact]
    public void A_truncated_optimizer_state_is_an_error_naming_the_file()
    {
        using var dir = new TempDirectory();
        WithModel((model, optimizer, metadata) =>
        {
            var run = new TrainingRunFolder(dir.Path);
            run.Save(model, metadata, optimizer.Optimizer, null, State(1, bestEpoch: 1), [Epoch(0, 0.4)]);
            var optimizerFile = Path.Combine(run.LastPath, "optimizer.bin");
            var bytes = File.ReadAllBytes(optimizerFile);
            File.WriteAllBytes(optimizerFile, bytes[..(bytes.Length / 2)]);

            var error = Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Load(run.LastPath, model, optimizer.Optimizer, null));
            Assert.StartsWith($"{optimizerFile}: the optimizer state cannot be read, the file is truncated or corrupt (", error.Message);
        });
    }

    [Fact]
    public void Non_finite_ema_weights_are_refused_at_load_naming_the_tensor_and_the_file()
    {
        using var dir = new TempDirectory();
        WithModel((model, optimizer, metadata) =>
        {
            using var ema = new ModelEma(model, 0.999);
            var run = new TrainingRunFolder(dir.Path);
            run.Save(model, metadata, optimizer.Optimizer, ema.State, State(1, bestEpoch: 1), [Epoch(0, 0.4)]);
            var emaFile = Path.Combine(run.LastPath, "ema.safetensors");
            var (tensors, _) = SafeTensorsFile.Read(emaFile);
            tensors["head.l.bias"][1] = float.NaN;
            tensors["head.l.bias"][2] = float.PositiveInfinity;
            SafeTensorsFile.Write(emaFile, tensors);
            foreach (var tensor in tensors.Values)
                tensor.Dispose();

            using var resumed = new ModelEma(model, 0.999);
            var error = Assert.Throws<CheckpointException>(() => TrainingCheckpoint.Load(run.LastPath, model, optimizer.Optimizer, resumed));
            Assert.Equal($"{emaFile}: refusing weights that are NaN or infinite, which make every output NaN: 1 tensor(s) holding them: head.l.bias (2 of 3 values).", error.Message);
        });
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
