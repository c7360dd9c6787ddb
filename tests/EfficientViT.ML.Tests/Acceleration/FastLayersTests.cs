using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

/// <summary>
/// Each fast layer is the plain layer computed another way: in training mode, the same output, the same input
/// gradient, the same gradient of every parameter and the same running statistics, within float32 rounding. The
/// plain layer runs on one copy of the weights and the fast layer on another.
/// </summary>
public class FastLayersTests
{
    // A depthwise kernel covering a 1x1 map, a 1x1 convolution of a 1x1 map and the stride-2 3x3 kernel from 2x2 to
    // 1x1 (one-pixel convolutions); a 2x2 map (normalized as rows), a narrow channels-last map (normalized on one
    // thread), and a map that takes libtorch's own kernels.
    [Theory]
    [InlineData(16, 16, 3, 1, 1, 16, 1, true)]
    [InlineData(24, 40, 1, 1, 0, 1, 1, true)]
    [InlineData(16, 16, 3, 2, 1, 16, 2, true)]
    [InlineData(16, 32, 1, 1, 0, 1, 2, false)]
    [InlineData(3, 8, 3, 2, 1, 1, 16, true)]
    [InlineData(16, 16, 3, 1, 1, 16, 7, true)]
    public void A_fast_conv_bn_is_the_conv_bn(int inChannels, int outChannels, int kernel, int stride, int padding, int groups, int side, bool channelsLast)
    {
        using var scope = NewDisposeScope();
        Layers(() => new Conv2dBN(inChannels, outChannels, kernel, stride, padding, groups), out var plain, out var copy);
        var x = randn(8, inChannels, side, side, generator: new Generator(3));
        AssertSameFunction(plain, new FastConv2dBN(copy), copy, x, channelsLast);
    }

    [Fact]
    public void A_fused_fast_conv_bn_is_the_fused_conv_bn()
    {
        using var scope = NewDisposeScope();
        Layers(() => new Conv2dBN(16, 16, 3, 1, 1, 16), out var plain, out var copy);
        plain.FuseBatchNorm();
        copy.FuseBatchNorm();
        var x = randn(4, 16, 1, 1, generator: new Generator(4));
        AssertSameFunction(plain, new FastConv2dBN(copy), copy, x, channelsLast: false);
    }

    [Fact]
    public void A_fast_classifier_is_the_classifier()
    {
        using var scope = NewDisposeScope();
        Layers(() => new BNLinear(32, 10), out var plain, out var copy);
        AssertSameFunction(plain, new FastBNLinear(copy), copy, randn(6, 32, generator: new Generator(5)), channelsLast: false);
    }

    [Theory]
    [InlineData(2, true)]
    [InlineData(4, false)]
    public void A_fast_squeeze_excite_is_the_squeeze_excite(int side, bool channelsLast)
    {
        using var scope = NewDisposeScope();
        Layers(() => new SqueezeExcite(64), out var plain, out var copy);
        AssertSameFunction(plain, new FastSqueezeExcite(copy), copy, randn(4, 64, side, side, generator: new Generator(6)), channelsLast);
    }

    // Channels-last maps take the attention's rows path (several windows' worth of batch, and a 7x7 window); others
    // the layer's own forward.
    [Theory]
    [InlineData(3, 2, true)]
    [InlineData(3, 4, true)]
    [InlineData(7, 2, true)]
    [InlineData(3, 2, false)]
    public void A_fast_attention_is_the_attention(int resolution, int batch, bool channelsLast)
    {
        using var scope = NewDisposeScope();
        Layers(() => new CascadedGroupAttention(12, 4, 3, 4, resolution, [3, 3, 1]), out var plain, out var copy);
        var x = randn(batch, 12, resolution, resolution, generator: new Generator(4));
        AssertSameFunction(plain, new FastCascadedGroupAttention(copy), copy, x, channelsLast);
    }

    // Two layers with the same non-trivial weights, made by `create` (the plain one and the copy the fast layer computes with).
    private static void Layers<T>(Func<T> create, out T plain, out T copy) where T : nn.Module
    {
        plain = create();
        RandomWeights.Apply(plain);
        using (no_grad())
            foreach (var (name, parameter) in plain.named_parameters().Where(p => p.name.EndsWith("weight", StringComparison.Ordinal) && p.parameter.dim() > 1))
                parameter.copy_(randn(parameter.shape, generator: new Generator((ulong)name.Length)) * 0.3);
        copy = create();
        copy.load_state_dict(plain.state_dict());
    }

    // Runs `plain` on x and `fast` (computing with `copy`'s tensors) on x (channels-last, with the copy's weights so,
    // when asked), in training mode with one upstream gradient; compares outputs, input gradients, parameter gradients
    // and the running statistics afterwards.
    private static void AssertSameFunction(nn.Module<Tensor, Tensor> plain, nn.Module<Tensor, Tensor> fast, nn.Module copy, Tensor x, bool channelsLast)
    {
        if (channelsLast)
            ChannelsLast.Convert(copy);
        plain.train();
        copy.train();
        var plainInput = x.clone().requires_grad_();
        var fastInput = (channelsLast ? ChannelsLast.Of(x) : x.clone()).requires_grad_();
        var expected = plain.call(plainInput);
        var actual = fast.call(fastInput);
        var upstream = randn(expected.shape, generator: new Generator(9));
        (expected * upstream).sum().backward();
        (actual * upstream).sum().backward();

        Assert.Equal(expected.shape, actual.shape);
        AssertClose(expected, actual, "output");
        AssertClose(plainInput.grad!, fastInput.grad!, "input gradient");
        Assert.True(plainInput.grad!.abs().max().item<float>() > 1e-3f, "the input gradient is not trivially zero");
        var fastParameters = copy.named_parameters().ToDictionary(pair => pair.name, pair => pair.parameter);
        foreach (var (name, parameter) in plain.named_parameters())
            AssertClose(parameter.grad!, fastParameters[name].grad!, $"{name} gradient");
        var fastState = copy.state_dict();
        foreach (var (name, value) in plain.state_dict().Where(pair => pair.Key.Contains("running_", StringComparison.Ordinal) || pair.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
            AssertClose(value.to(ScalarType.Float32), fastState[name].to(ScalarType.Float32), name);
    }

    // Gradients through training-mode BatchNorm over few values can be large; float32 rounding is relative to them, and
    // the two computations sum in different orders (a depthwise kernel's gradient differed by 1.1e-4 at scale 1).
    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        var scale = Math.Max(1f, expected.abs().max().item<float>());
        var difference = TestFiles.MaxAbsDiff(expected, actual);
        Assert.True(difference <= 5e-4f * scale, $"{what}: differs by {difference} (largest {scale})");
    }
}
