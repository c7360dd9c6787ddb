using System.Text.Json.Nodes;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Training;

namespace EfficientViT.ML.Tests.Training;

/// <summary>
/// A resumed run resizes as it did before it stopped: with the interpolation its checkpoints record, or, for a run of an
/// earlier version whose records name none, bilinearly without antialiasing, recorded as before (no field). Asking for
/// another interpolation is refused before training.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class ResumedRunInterpolationTests
{
    private const int Size = TrainerTests.Size;

    // As the command line prepares Fashion-MNIST, with six steps per epoch.
    private static readonly TrainingSetupOptions Options = TrainingSetupOptions.ForFashionMnist(Size) with { Epochs = 1, BatchSize = 8, Seed = 5 };

    // How a run is started with an interpolation; without one, as a run of an earlier version recorded it: no field.
    private static TrainingSetupOptions StartedWith(ImageInterpolation? interpolation) => interpolation is { } chosen
        ? Options with { Interpolation = chosen }
        : Options with { Preprocessing = ImagePreprocessing.FashionMnist(Size) with { Interpolation = null } };

    private static TrainingResult Train(TrainingSetup setup, IImageDataset data, string folder, bool resume, long? maxSteps = null) =>
        new EfficientVitTrainer(setup.Model, setup.Recipe, new TrainerOptions { OutputDirectory = folder, Resume = resume, MaxSteps = maxSteps, Workers = 1, Threads = 1 }, setup.Metadata)
            .Train(data, data, setup.TrainTransform, setup.EvalTransform);

    // Whether the last checkpoint's record names an interpolation at all, read from the file as written.
    private static bool LastRecordsInterpolation(TrainingRunFolder run) =>
        JsonNode.Parse(SafeTensorsFile.ReadMetadata(run.LastModelPath)[CheckpointMetadata.SafeTensorsKey])!.AsObject().ContainsKey("interpolation");

    [Theory]
    [InlineData(ImageInterpolation.Bilinear)]
    [InlineData(null)]
    public void A_resumed_run_trains_validates_and_records_with_the_interpolation_it_started_with(ImageInterpolation? started)
    {
        using var dir = new TempDirectory();
        var run = new TrainingRunFolder(dir.Path);
        var data = TrainerTests.TinyData(1);
        using (var first = TrainingSetup.Prepare(StartedWith(started), data))
            Assert.Equal(2, Train(first, data, dir.Path, resume: false, maxSteps: 2).Steps);
        Assert.Equal(started is not null, LastRecordsInterpolation(run));

        // Resumed with the options of the day, which resize bicubically by default.
        Assert.Equal(ImageInterpolation.Bicubic, Options.Preprocessing!.Interpolation);
        using var resumed = TrainingSetup.Prepare(Options with { ResumedRun = dir.Path }, data);

        Assert.Equal(started, resumed.TrainTransform.Preprocessing.Interpolation);
        Assert.Equal(started, resumed.EvalTransform.Preprocessing.Interpolation);
        Assert.Equal(started, resumed.Metadata.Preprocessing.Interpolation);
        var rest = Train(resumed, data, dir.Path, resume: true);
        Assert.True(rest.Completed, rest.StopReason);
        Assert.Equal(6, rest.Steps);
        Assert.Equal(started, TrainingCheckpoint.ReadMetadata(run.LastPath)!.Preprocessing.Interpolation);
        Assert.Equal(started, TrainingCheckpoint.ReadMetadata(run.BestPath)!.Preprocessing.Interpolation);
        Assert.Equal(started is not null, LastRecordsInterpolation(run));
    }

    // A run folder whose last checkpoint records recorded (null: as an earlier version wrote it), without training.
    private static TrainingRunFolder RunRecording(TempDirectory dir, ImageInterpolation? recorded)
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Size, 10);
        using var optimizer = OptimizerFactory.CreateAdamW(model, TrainingRecipe.ForSmallData(1, 8));
        var metadata = CheckpointMetadata.FromConfig(model.Config)
            .WithPreprocessing(ImagePreprocessing.FashionMnist(Size) with { Interpolation = recorded }, TrainerTests.TinyData(1).ClassNames);
        var run = new TrainingRunFolder(dir.Path);
        run.Save(model, metadata, optimizer.Optimizer, null, new TrainingState { Epoch = 0, BatchesDoneInEpoch = 2, Step = 2, Seed = 5 }, []);
        Assert.Equal(recorded is not null, LastRecordsInterpolation(run));
        return run;
    }

    [Theory]
    [InlineData(ImageInterpolation.Bilinear, ImageInterpolation.Bicubic, "with bilinear;", "asks for bicubic")]
    [InlineData(ImageInterpolation.Bicubic, ImageInterpolation.Bilinear, "with bicubic;", "asks for bilinear")]
    [InlineData(null, ImageInterpolation.Bicubic, "with the bilinear filter of earlier versions, without antialiasing", "asks for bicubic")]
    // The earlier versions' bilinear is not PIL's antialiased Bilinear: a different transform.
    [InlineData(null, ImageInterpolation.Bilinear, "with the bilinear filter of earlier versions, without antialiasing", "asks for bilinear")]
    public void Another_interpolation_than_the_run_s_is_refused_naming_both_and_the_folder(ImageInterpolation? recorded, ImageInterpolation asked, string runs, string asks)
    {
        using var dir = new TempDirectory();
        var run = RunRecording(dir, recorded);

        var error = Assert.Throws<ArgumentException>(() => TrainingSetup.Prepare(Options with { ResumedRun = dir.Path, Interpolation = asked }, TrainerTests.TinyData(1)));

        Assert.StartsWith($"{run.Path}: the run's last checkpoint, {run.LastModelPath}, was trained resizing ", error.Message);
        Assert.Contains(runs, error.Message);
        Assert.Contains(asks, error.Message);
        Assert.Contains("resume without it", error.Message);
    }

    [Theory]
    [InlineData(ImageInterpolation.Bilinear)]
    [InlineData(ImageInterpolation.Bicubic)]
    public void The_run_s_own_interpolation_may_be_named(ImageInterpolation recorded)
    {
        using var dir = new TempDirectory();
        RunRecording(dir, recorded);

        using var setup = TrainingSetup.Prepare(Options with { ResumedRun = dir.Path, Interpolation = recorded }, TrainerTests.TinyData(1));

        Assert.Equal(recorded, setup.TrainTransform.Preprocessing.Interpolation);
        Assert.Equal(recorded, setup.Metadata.Preprocessing.Interpolation);
    }

    [Fact]
    public void A_resumed_run_s_folder_without_a_checkpoint_is_refused_by_the_setup()
    {
        using var dir = new TempDirectory();
        var error = Assert.Throws<InvalidOperationException>(() => TrainingSetup.Prepare(Options with { ResumedRun = dir.Path }, TrainerTests.TinyData(1)));
        Assert.Contains($"{dir.Path}: no training checkpoint to resume from", error.Message);
    }

    // Metadata prepared as for a new run (today's bicubic) would switch the rest of the run; the trainer refuses it.
    [Theory]
    [InlineData(ImageInterpolation.Bilinear, "with bilinear;")]
    [InlineData(null, "with the bilinear filter of earlier versions")]
    public void The_trainer_refuses_to_resume_a_run_with_metadata_of_another_interpolation(ImageInterpolation? recorded, string runs)
    {
        using var dir = new TempDirectory();
        var run = RunRecording(dir, recorded);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, Size, 10);
        var trainer = new EfficientVitTrainer(model, TrainerTests.Recipe(epochs: 1), new TrainerOptions { OutputDirectory = dir.Path, Resume = true, Workers = 1, Threads = 1 },
            CheckpointMetadata.FromConfig(model.Config));

        var error = Assert.Throws<InvalidOperationException>(() => trainer.Train(TrainerTests.TinyData(1), null, TrainerTests.TrainTransform, TrainerTests.EvalTransform));

        Assert.StartsWith($"{run.LastPath} was trained resizing ", error.Message);
        Assert.Contains(runs, error.Message);
        Assert.Contains("the metadata given to the trainer records bicubic", error.Message);
        Assert.Contains("TrainingSetupOptions.ResumedRun", error.Message);
    }
}
