using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Training;
using Microsoft.ML;

namespace EfficientViT.ML.Tests.Training;

[Collection(TorchGlobalStateCollection.Name)]
public class TrainingSetupTests
{
    private static readonly FashionMnistDataset Data = FashionMnistDataset.FromArrays(new byte[40 * 16], Enumerable.Range(0, 40).Select(i => (byte)(i % 10)).ToArray(), 40, 4, 4);

    [Fact]
    public void From_scratch_the_setup_has_the_data_classes_its_preprocessing_and_the_scratch_learning_rate()
    {
        using var setup = TrainingSetup.Prepare(TrainingSetupOptions.ForFashionMnist(32) with { Epochs = 2, BatchSize = 16 }, Data);
        Assert.Equal(32, setup.Model.Config.ImageSize);
        Assert.Equal(10, setup.Model.Config.NumClasses);
        Assert.Equal(Data.ClassNames, setup.Metadata.ClassNames);
        Assert.Equal(ImagePreprocessing.FashionMnist(32), setup.Metadata.Preprocessing);
        Assert.Equal(setup.Metadata.Preprocessing, setup.EvalTransform.Preprocessing);
        Assert.Equal(0.8, setup.TrainTransform.Scale.Min);
        Assert.Equal(TrainingSetupOptions.FromScratchLearningRate, setup.Recipe.ScaledLearningRate(), 12);
        Assert.Equal(0, setup.Recipe.MixupAlpha);
        Assert.Null(setup.Recipe.EmaDecay);
    }

    [Fact]
    public void Fine_tuning_keeps_the_checkpoint_size_and_statistics_without_grayscale_and_uses_the_fine_tuning_rate()
    {
        using var dir = new TempDirectory();
        var path = dir.File("source.safetensors");
        using (var source = EfficientVit.Create(EfficientVitVariant.M0, 48, 5))
            EfficientVitCheckpoint.Save(source, path, CheckpointMetadata.FromConfig(source.Config) with { Preprocessing = ImagePreprocessing.FashionMnist(48) });

        using var setup = TrainingSetup.Prepare(new TrainingSetupOptions { Checkpoint = path, Seed = 3 }, Data);
        Assert.Equal(48, setup.Model.Config.ImageSize);
        Assert.Equal(10, setup.Model.Config.NumClasses);
        Assert.Equal(ImagePreprocessing.FashionMnist(48) with { Grayscale = false }, setup.Metadata.Preprocessing);
        Assert.Equal(TrainingSetupOptions.FineTuningLearningRate, setup.Recipe.ScaledLearningRate(), 12);
        Assert.Equal(3, setup.Recipe.Seed);
    }

    [Fact]
    public void Options_out_of_range_are_refused_naming_the_option_and_the_value()
    {
        Assert.StartsWith("ImageSize = 50:", Assert.Throws<ArgumentException>(() => new TrainingSetupOptions { ImageSize = 50 }.Validate()).Message);
        Assert.Equal("ImageSize = 8192: must be a positive multiple of 16 (the patch embedding's stride) up to 4096.",
            Assert.Throws<ArgumentException>(() => new TrainingSetupOptions { ImageSize = 8192 }.Validate()).Message);
        Assert.StartsWith("BatchSize = 0:", Assert.Throws<ArgumentException>(() => new TrainingSetupOptions { BatchSize = 0 }.Validate()).Message);
        Assert.StartsWith("LearningRate = NaN:", Assert.Throws<ArgumentException>(() => new TrainingSetupOptions { LearningRate = double.NaN }.Validate()).Message);
    }

    [Fact]
    public void The_ml_net_trainer_refuses_zero_threads_before_training()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MLContext().MulticlassClassification.Trainers.EfficientVit(new EfficientVitClassifierOptions { Threads = 0 }));
        Assert.Contains("Threads = 0", error.Message);
    }
}
