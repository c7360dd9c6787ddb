using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

public class LossesTests
{
    private static double[] LogSoftmax(params double[] row)
    {
        var logSum = Math.Log(row.Sum(Math.Exp));
        return row.Select(v => v - logSum).ToArray();
    }

    private static Tensor Matrix(double[,] values) =>
        tensor(values.Cast<double>().Select(v => (float)v).ToArray(), new long[] { values.GetLength(0), values.GetLength(1) });

    [Fact]
    public void Soft_target_cross_entropy_matches_a_hand_computation()
    {
        using var scope = NewDisposeScope();
        var logits = Matrix(new double[,] { { 1, 2, 3 }, { 0, 0, 0 } });
        var targets = Matrix(new double[,] { { 0, 0, 1 }, { 0.5, 0.5, 0 } });

        var loss = Losses.SoftTargetCrossEntropy(logits, targets).ToDouble();

        // Row 0: -log softmax(1,2,3)[2] = log(1 + e^-1 + e^-2); row 1: -log(1/3) = log 3.
        var expected = (Math.Log(1 + Math.Exp(-1) + Math.Exp(-2)) + Math.Log(3)) / 2;
        Assert.Equal(expected, loss, 5);
    }

    [Fact]
    public void Label_smoothing_zero_is_plain_cross_entropy()
    {
        using var scope = NewDisposeScope();
        var logits = randn(new long[] { 6, 4 }, generator: new Generator(3));
        var labels = tensor(new long[] { 0, 1, 2, 3, 1, 0 });
        var expected = nn.functional.cross_entropy(logits, labels).ToDouble();
        Assert.Equal(expected, Losses.LabelSmoothingCrossEntropy(logits, labels, 0).ToDouble(), 5);
    }

    [Fact]
    public void Label_smoothing_equals_soft_targets_with_smoothed_one_hot()
    {
        using var scope = NewDisposeScope();
        var logits = randn(new long[] { 5, 7 }, generator: new Generator(4));
        var labels = tensor(new long[] { 6, 0, 3, 3, 1 });
        var targets = new MixupCutmix(7, labelSmoothing: 0.1).SmoothedOneHot(labels);
        Assert.Equal(
            Losses.SoftTargetCrossEntropy(logits, targets).ToDouble(),
            Losses.LabelSmoothingCrossEntropy(logits, labels, 0.1).ToDouble(), 5);
    }

    [Fact]
    public void Label_smoothing_matches_a_hand_computation()
    {
        using var scope = NewDisposeScope();
        var logits = Matrix(new double[,] { { 2, 0, -1 } });
        var labels = tensor(new long[] { 0 });
        var logP = LogSoftmax(2, 0, -1);
        var expected = 0.8 * -logP[0] + 0.2 * -logP.Average();
        Assert.Equal(expected, Losses.LabelSmoothingCrossEntropy(logits, labels, 0.2).ToDouble(), 5);
    }

    // Base criterion for the distillation tests: mean of squares of the class logits, 7.5 for [[1, 2], [3, 4]].
    private static Tensor MeanSquare(Tensor logits) => (logits * logits).mean();

    [Fact]
    public void Soft_distillation_matches_a_hand_computation()
    {
        using var scope = NewDisposeScope();
        var logits = Matrix(new double[,] { { 1, 2 }, { 3, 4 } });
        var distillation = Matrix(new double[,] { { 0, 1 }, { 2, 0 } });
        var teacher = Matrix(new double[,] { { 1, 0 }, { 0, 0 } });
        const double tau = 2.0, alpha = 0.5;

        var loss = Losses.Distillation(logits, distillation, teacher, MeanSquare, DistillationMode.Soft, alpha, tau).ToDouble();

        // KL(teacher || student) of the tau-softened distributions, summed over everything, times tau^2 / numel.
        double kl = 0;
        foreach (var (student, target) in new[] { (new[] { 0.0, 1 }, new[] { 1.0, 0 }), (new[] { 2.0, 0 }, new[] { 0.0, 0 }) })
        {
            var logS = LogSoftmax(student.Select(v => v / tau).ToArray());
            var logT = LogSoftmax(target.Select(v => v / tau).ToArray());
            for (var c = 0; c < 2; c++)
                kl += Math.Exp(logT[c]) * (logT[c] - logS[c]);
        }
        var expected = 7.5 * (1 - alpha) + kl * tau * tau / 4 * alpha;
        Assert.Equal(expected, loss, 5);
    }

    [Fact]
    public void Hard_distillation_matches_a_hand_computation()
    {
        using var scope = NewDisposeScope();
        var logits = Matrix(new double[,] { { 1, 2 }, { 3, 4 } });
        var distillation = Matrix(new double[,] { { 0, 1 }, { 2, 0 } });
        var teacher = Matrix(new double[,] { { 1, 0 }, { 0, 3 } }); // teacher classes 0 and 1

        var loss = Losses.Distillation(logits, distillation, teacher, MeanSquare, DistillationMode.Hard, alpha: 0.25).ToDouble();

        var crossEntropy = (-LogSoftmax(0, 1)[0] - LogSoftmax(2, 0)[1]) / 2;
        Assert.Equal(7.5 * 0.75 + crossEntropy * 0.25, loss, 5);
    }

    [Fact]
    public void No_distillation_is_the_base_loss()
    {
        using var scope = NewDisposeScope();
        var logits = Matrix(new double[,] { { 1, 2 }, { 3, 4 } });
        Assert.Equal(7.5, Losses.Distillation(logits, null, null, MeanSquare, DistillationMode.None).ToDouble(), 6);
    }

    [Fact]
    public void Distillation_trains_the_student_and_not_the_teacher()
    {
        using var scope = NewDisposeScope();
        var logits = randn(3, 4).requires_grad_();
        var distillation = randn(3, 4).requires_grad_();
        var teacher = randn(3, 4).requires_grad_();
        var labels = tensor(new long[] { 0, 1, 2 });

        var loss = Losses.Distillation(logits, distillation, teacher, l => Losses.LabelSmoothingCrossEntropy(l, labels), DistillationMode.Soft);
        loss.backward();

        Assert.NotNull(logits.grad);
        Assert.NotNull(distillation.grad);
        Assert.Null(teacher.grad);
    }

    [Fact]
    public void Distillation_without_teacher_logits_is_rejected()
    {
        using var scope = NewDisposeScope();
        var logits = randn(2, 3);
        Assert.Throws<ArgumentException>(() => Losses.Distillation(logits, logits, null, MeanSquare, DistillationMode.Hard));
    }
}
