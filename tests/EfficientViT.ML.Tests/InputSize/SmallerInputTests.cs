using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.InputSize;

/// <summary>
/// <see cref="EfficientVit.SetInputSize"/> against an independent computation: the network rebuilt at the smaller side
/// by <see cref="EfficientVit.WithImageSize"/> with <see cref="AttentionBiasResampling.Extend"/> tables (its own bias
/// index and resampled tables), which is what running below the built size must equal.
/// </summary>
public class SmallerInputTests
{
    // Fresh attention biases are zeros, which any index gathers alike; random ones make the offsets matter.
    private static void RandomizeBiases(EfficientVit model)
    {
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (name.EndsWith(".attention_biases", StringComparison.Ordinal))
                parameter.copy_(randn_like(parameter));
        }
        model.InvalidateCaches();
    }

    [Theory]
    [InlineData(112, 64)]  // every stage's map smaller than its window
    [InlineData(224, 160)] // stage 1 in padded 7x7 windows (the full table), stages 2 and 3 below their windows
    [InlineData(112, 32)]  // 2x2, 1x1, 1x1 maps
    public void Running_below_the_built_size_equals_the_network_rebuilt_there_with_extended_tables(int built, int run)
    {
        manual_seed(3);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, built, 10);
        RandomizeBiases(model);
        model.eval();
        using var rebuilt = model.WithImageSize(run, AttentionBiasResampling.Extend);
        model.SetInputSize(run);
        Assert.Equal(run, model.InputSize);
        Assert.Equal(built, model.Config.ImageSize);

        using var scope = NewDisposeScope();
        var images = randn(3, 3, run, run);
        var expected = rebuilt.forward(images);
        var actual = model.forward(images);
        Assert.True(TestFiles.MaxAbsDiff(expected, actual) < 1e-5, $"max abs diff {TestFiles.MaxAbsDiff(expected, actual)}");
    }

    [Theory]
    [InlineData(112, 64)]
    [InlineData(224, 160)]
    public void Gradients_reach_the_full_tables_at_the_offsets_the_smaller_maps_have(int built, int run)
    {
        manual_seed(4);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, built, 10);
        RandomizeBiases(model);
        using var rebuilt = model.WithImageSize(run, AttentionBiasResampling.Extend);
        model.SetInputSize(run);
        model.train();
        rebuilt.train();

        using var scope = NewDisposeScope();
        var images = randn(4, 3, run, run);
        var weights = randn(4, 10);
        (model.forward(images) * weights).sum().backward();
        (rebuilt.forward(images) * weights).sum().backward();

        var smallTables = rebuilt.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var checkedTables = 0;
        foreach (var (name, full) in model.named_parameters())
        {
            if (!name.EndsWith(".attention_biases", StringComparison.Ordinal))
                continue;
            var small = smallTables[name];
            var (r, s) = ((int)Math.Sqrt(full.shape[1]), (int)Math.Sqrt(small.shape[1]));
            var fullGrad = full.grad!.to_type(ScalarType.Float32);
            var smallGrad = small.grad!.to_type(ScalarType.Float32);
            for (var dy = 0; dy < r; dy++)
            {
                for (var dx = 0; dx < r; dx++)
                {
                    var column = fullGrad[.., dy * r + dx];
                    // Offsets a smaller map has: the rebuilt network's gradient; the others: none.
                    var expected = dy < s && dx < s ? smallGrad[.., dy * s + dx] : zeros_like(column);
                    var diff = TestFiles.MaxAbsDiff(expected, column);
                    Assert.True(diff < 1e-4, $"{name} offset ({dy}, {dx}): max abs diff {diff}");
                }
            }
            checkedTables++;
        }
        Assert.True(checkedTables > 0);
    }

    [Fact]
    public void Sizes_outside_the_network_and_inputs_of_another_size_are_refused_with_both_sizes()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, 112, 10);
        var tooLarge = Assert.Throws<ArgumentOutOfRangeException>(() => model.SetInputSize(128));
        Assert.Contains("112", tooLarge.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.SetInputSize(72));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.SetInputSize(16));

        model.SetInputSize(64);
        model.eval();
        using var scope = NewDisposeScope();
        var wrong = Assert.Throws<ArgumentException>(() => model.forward(randn(1, 3, 112, 112)));
        Assert.Contains("64x64", wrong.Message);
        Assert.Contains("SetInputSize", wrong.Message);

        model.SetInputSize(112);
        Assert.Equal(112, model.InputSize);
        Assert.Equal(new long[] { 1, 10 }, model.forward(randn(1, 3, 112, 112)).shape);
    }
}
