using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Training;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

[Collection(TorchGlobalStateCollection.Name)]
public class DistillationTrainerTests
{
    private const int Size = 32;

    private static FashionMnistDataset Data()
    {
        var random = new Random(3);
        var pixels = new byte[32 * 12 * 12];
        random.NextBytes(pixels);
        return FashionMnistDataset.FromArrays(pixels, Enumerable.Range(0, 32).Select(i => (byte)(i % 10)).ToArray(), 32, 12, 12);
    }

    private static TrainingRecipe Recipe(DistillationMode mode) =>
        TrainingRecipe.ForSmallData(3, 8, 4).WithPeakLearningRate(3e-3) with { Distillation = mode, MixupAlpha = 0, CutmixAlpha = 0, Seed = 2 };

    private static TrainingResult Train(ITeacher? teacher, DistillationMode mode, bool distillationHead = true)
    {
        using var student = EfficientVit.Create(EfficientVitVariant.M0, Size, 10, distillation: distillationHead);
        var trainer = new EfficientVitTrainer(student, Recipe(mode), new TrainerOptions { Teacher = teacher, Workers = 1, Threads = 1 },
            CheckpointMetadata.FromConfig(student.Config));
        return trainer.Train(Data(), null, ImageTransform.FashionMnist(Size, train: true), ImageTransform.FashionMnist(Size, train: false));
    }

    [Theory]
    [InlineData(DistillationMode.Soft, false)]
    [InlineData(DistillationMode.Hard, true)]
    public void Students_train_from_a_checkpoint_teacher_or_an_onnx_teacher(DistillationMode mode, bool onnx)
    {
        using var dir = new TempDirectory();
        using (var teacherModel = EfficientVit.Create(EfficientVitVariant.M0, Size, 10))
        {
            if (onnx)
                EfficientVitOnnxExporter.Export(teacherModel, dir.File("teacher.onnx"));
            else
                EfficientVitCheckpoint.Save(teacherModel, dir.File("teacher.safetensors"));
        }
        using ITeacher teacher = onnx ? new OnnxTeacher(dir.File("teacher.onnx")) : new ModelTeacher(dir.File("teacher.safetensors"));

        var result = Train(teacher, mode);

        Assert.True(result.Completed, result.StopReason);
        Assert.All(result.Epochs, e => Assert.True(double.IsFinite(e.TrainLoss)));
    }

    [Fact]
    public void Distillation_without_a_teacher_or_a_distillation_head_is_refused()
    {
        Assert.Contains("needs a teacher", Assert.Throws<ArgumentException>(() => Train(null, DistillationMode.Soft)).Message);
        using var dir = new TempDirectory();
        using (var teacherModel = EfficientVit.Create(EfficientVitVariant.M0, Size, 10))
            EfficientVitCheckpoint.Save(teacherModel, dir.File("teacher.safetensors"));
        using var teacher = new ModelTeacher(dir.File("teacher.safetensors"));
        Assert.Contains("distillation: true", Assert.Throws<ArgumentException>(() => Train(teacher, DistillationMode.Hard, distillationHead: false)).Message);
    }

    [Fact]
    public void A_teacher_over_other_classes_is_refused()
    {
        using var dir = new TempDirectory();
        using (var teacherModel = EfficientVit.Create(EfficientVitVariant.M0, Size, 7))
            EfficientVitCheckpoint.Save(teacherModel, dir.File("teacher.safetensors"));
        using var teacher = new ModelTeacher(dir.File("teacher.safetensors"));
        Assert.Contains("7 classes", Assert.Throws<ArgumentException>(() => Train(teacher, DistillationMode.Soft)).Message);
    }
}
