using EfficientViT.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

public class GradientClippingTests
{
    // Gives the parameter exactly this gradient: d/dp sum(p * g) = g.
    private static void SetGradient(Parameter parameter, Tensor gradient)
    {
        using var scope = NewDisposeScope();
        (parameter * gradient).sum().backward();
    }

    private static float[] Gradient(Parameter parameter)
    {
        using var gradient = parameter.grad!;
        return gradient.data<float>().ToArray();
    }

    [Fact]
    public void Adaptive_clipping_leaves_small_units_and_scales_large_ones_to_the_limit()
    {
        using var scope = NewDisposeScope();
        // Row 0: weight norm 5, limit 0.02 * 5 = 0.1, gradient norm 0.05: untouched.
        // Row 1: weight norm 1e-4 < eps, limit 0.02 * 1e-3 = 2e-5, gradient norm 5: scaled to 2e-5.
        var weight = new Parameter(tensor(new float[] { 3, 4, 0, 0, 0, 1e-4f }, 2, 3));
        SetGradient(weight, tensor(new float[] { 0.03f, 0.04f, 0, 3, 0, 4 }, 2, 3));
        // A 1-D parameter is one unit: weight norm 2, limit 0.04, gradient norm 10: scaled by 0.004.
        var bias = new Parameter(tensor(new float[] { 0, 2 }));
        SetGradient(bias, tensor(new float[] { 6, 8 }));

        GradientClipping.ClipAdaptive(new[] { weight, bias }, clipFactor: 0.02, eps: 1e-3);

        var w = Gradient(weight);
        Assert.Equal(new[] { 0.03f, 0.04f, 0f }, w[..3]);
        Assert.Equal(2e-5 * 3 / 5, w[3], 10);
        Assert.Equal(0, w[4]);
        Assert.Equal(2e-5 * 4 / 5, w[5], 10);
        var rowNorm = Math.Sqrt(w[3] * w[3] + w[5] * w[5]);
        Assert.Equal(2e-5, rowNorm, 10);

        var b = Gradient(bias);
        Assert.Equal(0.024, b[0], 6);
        Assert.Equal(0.032, b[1], 6);
    }

    [Fact]
    public void Adaptive_clipping_works_per_output_channel_of_a_convolution_weight()
    {
        using var scope = NewDisposeScope();
        var weight = new Parameter(ones(4, 2, 3, 3)); // each output channel: norm sqrt(18)
        var gradient = randn(new long[] { 4, 2, 3, 3 }, generator: new Generator(1));
        gradient[0].mul_(1e-4); // channel 0 far below the limit
        SetGradient(weight, gradient);

        GradientClipping.ClipAdaptive(new[] { weight }, clipFactor: 0.02);

        using var clipped = weight.grad!;
        var limit = 0.02 * Math.Sqrt(18);
        Assert.True(clipped[0].eq(gradient[0]).all().ToBoolean());
        for (var channel = 1; channel < 4; channel++)
            Assert.Equal(limit, clipped[channel].norm().ToDouble(), 5);
    }

    [Fact]
    public void Norm_clipping_brings_the_global_norm_to_the_maximum()
    {
        using var scope = NewDisposeScope();
        var first = new Parameter(zeros(2));
        var second = new Parameter(zeros(1));
        var untouched = new Parameter(zeros(3)); // no gradient: skipped
        SetGradient(first, tensor(new float[] { 3, 4 }));
        SetGradient(second, tensor(new float[] { 12 }));

        var norm = GradientClipping.ClipNorm(new[] { first, second, untouched }, maxNorm: 1.0);

        Assert.Equal(13, norm, 4);
        var all = Gradient(first).Concat(Gradient(second)).ToArray();
        Assert.Equal(1.0, Math.Sqrt(all.Sum(g => (double)g * g)), 5);
        Assert.Equal(3.0 / 13, all[0], 5);
        Assert.Null(untouched.grad);
    }

    [Fact]
    public void Norm_clipping_leaves_small_gradients_alone()
    {
        using var scope = NewDisposeScope();
        var parameter = new Parameter(zeros(2));
        SetGradient(parameter, tensor(new float[] { 3, 4 }));
        Assert.Equal(5, GradientClipping.ClipNorm(new[] { parameter }, maxNorm: 10), 5);
        Assert.Equal(new[] { 3f, 4f }, Gradient(parameter));
    }
}
