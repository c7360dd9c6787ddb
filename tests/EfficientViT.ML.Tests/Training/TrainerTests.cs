using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

[Collection(TorchGlobalStateCollection.Name)]
public class TrainerTests
{
    internal const int Size = 32, Classes = 3, ModelClasses = 10;

    // 48 tiny grayscale images whose class (0-2 of Fashion-MNIST's ten) is their brightness band, so a few steps can learn something.
    internal static FashionMnistDataset TinyData(int seed)
    {
        var random = new Random(seed);
        const int count = 48, side = 12;
        var labels = new byte[count];
        var pixels = new byte[count * side * side];
        for (var i = 0; i < count; i++)
        {
            labels[i] = (byte)(i % Classes);
            for (var p = 0; p < side * side; p++)
                pixels[i * side * side + p] = (byte)(labels[i] * 80 + random.Next(60));
        }
        return FashionMnistDataset.FromArrays(pixels, labels, count, side, side);
    }

    // The lr scaling rule (lr × batch/512) gives batch 8 a tiny rate; a larger base keeps the tests short.
    internal static TrainingRecipe Recipe(int epochs) => TrainingRecipe.ForSmallData(epochs, batchSize: 8, stepsPerEpoch: 6) with { Seed = 5, BaseLearningRate = 0.3 };

    private static (EfficientVit Model, EfficientVitTrainer Trainer) Make(string output, TrainingRecipe recipe, bool resume = false, bool freeze = false)
    {
        manual_seed(11);
        var model = EfficientVit.Create(EfficientVitVariant.M0, Size, ModelClasses);
        var options = new TrainerOptions { OutputDirectory = output, Resume = resume, Workers = 2, Threads = 1, FreezeBackbone = freeze };
        return (model, new EfficientVitTrainer(model, recipe, options, CheckpointMetadata.FromConfig(model.Config)));
    }

    internal static ImageTransform TrainTransform => ImageTransform.FashionMnist(Size, train: true);

    internal static ImageTransform EvalTransform => ImageTransform.FashionMnist(Size, train: false);

    [Fact]
    public void Resuming_after_a_stop_gives_the_same_weights_as_an_uninterrupted_run()
    {
        using var dir = new TempDirectory();
        var data = TinyData(1);
        var recipe = Recipe(epochs: 2);

        var (straight, straightTrainer) = Make(Path.Combine(dir.Path, "straight"), recipe);
        using (straight)
        {
            var result = straightTrainer.Train(data, data, TrainTransform, EvalTransform);
            Assert.True(result.Completed);
            Assert.Equal(12, result.Steps);

            // Stop in the middle of the second epoch, as Ctrl+C would, then resume in a new trainer.
            using var cancel = new CancellationTokenSource();
            var stopped = Path.Combine(dir.Path, "stopped");
            var (first, firstTrainer) = Make(stopped, recipe);
            using (first)
            {
                var partial = firstTrainer.Train(data, data, TrainTransform, EvalTransform,
                    new Progress(p => { if (p.Step == 8) cancel.Cancel(); }), cancel.Token);
                Assert.False(partial.Completed);
                Assert.Contains("cancelled", partial.StopReason);
            }
            var (resumed, resumedTrainer) = Make(stopped, recipe, resume: true);
            using (resumed)
            {
                var rest = resumedTrainer.Train(data, data, TrainTransform, EvalTransform);
                Assert.True(rest.Completed);
                Assert.Equal(12, rest.Steps);
                Assert.Equal(2, rest.Epochs.Count);
                foreach (var (name, tensor) in straight.state_dict())
                    Assert.True(TestFiles.MaxAbsDiff(tensor.to_type(ScalarType.Float32), resumed.state_dict()[name].to_type(ScalarType.Float32)) == 0, $"{name} differs after resuming");
            }
        }
        Assert.True(File.Exists(Path.Combine(dir.Path, "straight", TrainingRunFolder.MetricsFile)));
        Assert.True(File.Exists(Path.Combine(dir.Path, "straight", TrainingRunFolder.BestCheckpoint, TrainingCheckpoint.ModelFile)));
    }

    [Fact]
    public void A_frozen_backbone_does_not_change_and_the_head_does()
    {
        using var dir = new TempDirectory();
        var (model, trainer) = Make(dir.Path, Recipe(epochs: 1), freeze: true);
        using (model)
        {
            var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
            trainer.Train(TinyData(2), null, TrainTransform, EvalTransform);
            foreach (var (name, parameter) in model.named_parameters())
            {
                var same = TestFiles.MaxAbsDiff(parameter, before[name]) == 0;
                if (name.StartsWith("head", StringComparison.Ordinal))
                    Assert.False(same && name.EndsWith("weight", StringComparison.Ordinal), $"{name} did not train");
                else
                    Assert.True(same, $"{name} changed although the backbone is frozen");
            }
            foreach (var tensor in before.Values) tensor.Dispose();
        }
    }

    [Fact]
    public void Training_lowers_the_loss_and_native_memory_stays_flat()
    {
        using var dir = new TempDirectory();
        var recipe = Recipe(epochs: 4) with { MixupAlpha = 0, CutmixAlpha = 0, EmaDecay = null };
        var (model, trainer) = Make(dir.Path, recipe);
        using (model)
        {
            var live = new List<long>();
            var result = trainer.Train(TinyData(3), null, TrainTransform, EvalTransform,
                new Progress(p => live.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount)));
            Assert.True(result.Epochs[^1].TrainLoss < result.Epochs[0].TrainLoss * 0.9,
                $"loss went from {result.Epochs[0].TrainLoss} to {result.Epochs[^1].TrainLoss}");
            // Reports come after each step; from the second epoch on, the count of live tensors is steady.
            var steady = live.Skip(7).Where((_, i) => i % 7 != 6).ToList();
            Assert.True(steady.Max() - steady.Min() <= 2, $"live tensors drifted: {string.Join(",", steady)}");
        }
    }

    [Fact]
    public void A_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint()
    {
        using var dir = new TempDirectory();
        var data = TinyData(4);
        var recipe = Recipe(epochs: 2) with { MixupAlpha = 0, CutmixAlpha = 0, EmaDecay = null, GradientClipMode = GradientClipMode.None };
        using var afterFirstEpoch = new CancellationTokenSource();
        var (model, trainer) = Make(dir.Path, recipe);
        using (model)
            trainer.Train(data, null, TrainTransform, EvalTransform, new Progress(p => { if (p.EpochEnd is not null) afterFirstEpoch.Cancel(); }), afterFirstEpoch.Token);
        var last = Path.Combine(dir.Path, TrainingRunFolder.LastCheckpoint, TrainingCheckpoint.ModelFile);
        var saved = File.ReadAllBytes(last);

        // A learning rate this large sends the weights to infinity within a step or two.
        var (exploding, explodingTrainer) = Make(dir.Path, recipe with { BaseLearningRate = 1e12, MinLearningRate = 1e11, WarmupLearningRate = 1e11 }, resume: true);
        using (exploding)
        {
            var result = explodingTrainer.Train(data, null, TrainTransform, EvalTransform);
            Assert.False(result.Completed);
            Assert.Contains("the loss became", result.StopReason);
            Assert.Contains("last good checkpoint is kept", result.StopReason);
        }
        Assert.Equal(saved, File.ReadAllBytes(last));
    }

    [Fact]
    public void A_resolution_schedule_trains_each_epoch_at_its_side_and_resumes_to_the_same_weights()
    {
        using var dir = new TempDirectory();
        var data = TinyData(5);
        // Sides 32, 48, 64 for a network of 64; the teacher sees every batch the student trains on.
        var recipe = Recipe(epochs: 3) with { StartImageSize = 32, FullSizeEpochs = 1, Distillation = DistillationMode.Soft };
        var (train, eval) = (ImageTransform.FashionMnist(64, train: true), ImageTransform.FashionMnist(64, train: false));
        (EfficientVit Model, EfficientVitTrainer Trainer) Make64(string output, ITeacher teacher, bool resume = false)
        {
            manual_seed(11);
            var model = EfficientVit.Create(EfficientVitVariant.M0, 64, ModelClasses, distillation: true);
            var options = new TrainerOptions { OutputDirectory = output, Resume = resume, Workers = 2, Threads = 1, Teacher = teacher };
            return (model, new EfficientVitTrainer(model, recipe, options, CheckpointMetadata.FromConfig(model.Config)));
        }

        using var teacher = new SideRecordingTeacher();
        var (straight, straightTrainer) = Make64(Path.Combine(dir.Path, "straight"), teacher);
        using (straight)
        {
            var result = straightTrainer.Train(data, data, train, eval);
            Assert.True(result.Completed);
            Assert.Equal([.. Enumerable.Repeat(32L, 6), .. Enumerable.Repeat(48L, 6), .. Enumerable.Repeat(64L, 6)], teacher.Sides);
            Assert.All(result.Epochs, epoch => Assert.InRange(epoch.ValidationTop1, 0, 1));
            Assert.Equal(64, straight.InputSize);

            // Stopped in the 48x48 epoch, resumed in a new trainer: the same weights as the uninterrupted run.
            using var cancel = new CancellationTokenSource();
            var stopped = Path.Combine(dir.Path, "stopped");
            var (first, firstTrainer) = Make64(stopped, new SideRecordingTeacher());
            using (first)
                Assert.False(firstTrainer.Train(data, data, train, eval, new Progress(p => { if (p.Step == 8) cancel.Cancel(); }), cancel.Token).Completed);
            using var resumedTeacher = new SideRecordingTeacher();
            var (resumed, resumedTrainer) = Make64(stopped, resumedTeacher, resume: true);
            using (resumed)
            {
                Assert.True(resumedTrainer.Train(data, data, train, eval).Completed);
                Assert.Equal([.. Enumerable.Repeat(48L, 4), .. Enumerable.Repeat(64L, 6)], resumedTeacher.Sides);
                foreach (var (name, tensor) in straight.state_dict())
                    Assert.True(TestFiles.MaxAbsDiff(tensor.to_type(ScalarType.Float32), resumed.state_dict()[name].to_type(ScalarType.Float32)) == 0, $"{name} differs after resuming");
            }
        }
    }

    [Fact]
    public void A_set_thread_count_holds_for_the_run_and_the_caller_gets_its_own_back()
    {
        using var dir = new TempDirectory();
        var before = get_num_threads();
        set_num_threads(2);
        try
        {
            var (model, trainer) = Make(dir.Path, Recipe(epochs: 1)); // Threads = 1
            var during = new List<int>();
            using (model)
                Assert.True(trainer.Train(TinyData(6), null, TrainTransform, EvalTransform, new Progress(_ => during.Add(get_num_threads()))).Completed);
            Assert.NotEmpty(during);
            Assert.All(during, threads => Assert.Equal(1, threads));
            Assert.Equal(2, get_num_threads());
        }
        finally
        {
            set_num_threads(before);
        }
    }

    [Fact]
    public void A_resolution_schedule_that_does_not_start_below_the_network_is_refused()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Size, ModelClasses);
        var error = Assert.Throws<ArgumentException>(() => new EfficientVitTrainer(model, Recipe(epochs: 3) with { StartImageSize = Size, FullSizeEpochs = 1 },
            new TrainerOptions(), CheckpointMetadata.FromConfig(model.Config)));
        Assert.Contains("StartImageSize = 32", error.Message);
    }

    // Records the side of each batch it is asked about; zero logits (a uniform target) for the distillation head.
    private sealed class SideRecordingTeacher : ITeacher
    {
        public List<long> Sides { get; } = [];

        public int NumClasses => ModelClasses;

        public Tensor Logits(Tensor images)
        {
            Sides.Add(images.shape[2]);
            return zeros(images.shape[0], ModelClasses);
        }

        public void Dispose()
        {
        }
    }

    // IProgress<T> that reports synchronously on the training thread (System.Progress posts to the thread pool).
    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
