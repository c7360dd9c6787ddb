using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

public class OnePixelConvolutionTests
{
    // libtorch's own convolution is the reference: the same output and the same gradients for the input,
    // every kernel tap (the taps off the map get zero in both) and the bias, on the maps where the weighted
    // sum replaces it: 3x3 and 5x5 kernels over 1x1 maps, and the stride-2 3x3 kernel from 2x2 to 1x1.
    [Theory]
    [InlineData(3, 1, 1, 1, false)]
    [InlineData(5, 1, 2, 1, false)]
    [InlineData(3, 2, 1, 2, false)]
    [InlineData(3, 1, 1, 1, true)]
    [InlineData(3, 2, 1, 2, true)]
    public void Equals_libtorch_s_convolution_forward_and_backward(int kernelSize, int stride, int padding, int side, bool withBias)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(17);
        const int channels = 24;
        using var conv = nn.Conv2d(channels, channels, kernelSize, stride, padding, groups: channels, bias: withBias);
        var x = randn(6, channels, side, side, generator: generator);
        var upstream = randn(6, channels, 1, 1, generator: generator);
        Assert.True(OnePixelConvolution.Applies(conv, kernelSize, stride, padding, channels, x));

        var weightGradient = AssertEqualsLibtorch(conv, x, source => source, upstream, stride, padding, channels);
        var offMapTaps = weightGradient.clone();
        offMapTaps.narrow(2, padding, side).narrow(3, padding, side).zero_();
        Assert.Equal(0f, offMapTaps.abs().max().item<float>());
    }

    // A 1x1 convolution of a 1x1 map as a matrix product: libtorch's convolution's output and gradients, for a
    // contiguous input and for a channel slice of a wider map (the attention's heads read such slices).
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void A_1x1_convolution_of_a_1x1_map_equals_libtorch_s(bool withBias, bool channelSlice)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(23);
        using var conv = nn.Conv2d(48, 80, 1, bias: withBias);
        var wide = randn(6, channelSlice ? 96 : 48, 1, 1, generator: generator);
        var upstream = randn(6, 80, 1, 1, generator: generator);
        Tensor Input(Tensor source) => channelSlice ? source.narrow(1, 48, 48) : source;
        Assert.True(OnePixelConvolution.Applies(conv, 1, 1, 0, 1, Input(wide)));

        AssertEqualsLibtorch(conv, wide, Input, upstream, stride: 1, padding: 0, groups: 1);
    }

    // Runs libtorch's convolution and OnePixelConvolution on input(source) with conv's weights and asserts the same
    // output and gradients (source, weight, bias); returns the weight's gradient.
    private static Tensor AssertEqualsLibtorch(Conv2d module, Tensor source, Func<Tensor, Tensor> input, Tensor upstream, long stride, long padding, long groups)
    {
        var referenceSource = source.clone().requires_grad_();
        var referenceWeight = module.weight!.detach().clone().requires_grad_();
        var referenceBias = module.bias?.detach().clone().requires_grad_();
        var expected = nn.functional.conv2d(input(referenceSource), referenceWeight, referenceBias, [stride, stride], [padding, padding], groups: groups);
        (expected * upstream).sum().backward();
        var ourSource = source.clone().requires_grad_();
        var actual = OnePixelConvolution.Apply(module, padding, groups, input(ourSource));
        (actual * upstream).sum().backward();

        // Within 1e-5 relative to the larger of 1 and the reference's largest value (the sums differ in order).
        static void AssertClose(Tensor reference, Tensor ours) =>
            Assert.True(TestFiles.MaxAbsDiff(reference, ours) < 1e-5f * Math.Max(1f, reference.abs().max().item<float>()));
        Assert.Equal(expected.shape, actual.shape);
        AssertClose(expected, actual);
        AssertClose(referenceSource.grad!, ourSource.grad!);
        AssertClose(referenceWeight.grad!, module.weight!.grad!);
        if (referenceBias is not null)
            AssertClose(referenceBias.grad!, module.bias!.grad!);
        Assert.True(module.weight!.grad!.abs().max().item<float>() > 0.1f, "the weight gradient is not trivially zero");
        return module.weight!.grad!;
    }

    // Inside the fast layer: FastConv2dBN on a 1x1 map in training mode gives libtorch's convolution followed by
    // TorchSharp's BatchNorm module (outputs, running statistics, gradients), channels-last input included.
    [Fact]
    public void Conv2dBN_on_a_1x1_map_trains_as_convolution_then_batch_norm()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(3);
        using var module = new Conv2dBN(16, 16, kernelSize: 5, stride: 1, padding: 2, groups: 16);
        // Seeded taps (the module's own come from the process's generator, which other tests move). With one tap per
        // channel and the norm's usual eps the loss hardly depends on a tap's size, so its gradient is mostly rounding
        // and two float32 computations of it need not agree: an eps of the order of the signal's variance keeps a
        // real gradient to compare.
        using (no_grad())
            module.Conv.weight!.copy_(rand(16, 1, 5, 5, generator: generator) * 0.4 - 0.2);
        module.BatchNorm!.eps = 0.01;
        using var referenceNorm = nn.BatchNorm2d(16, eps: 0.01);
        referenceNorm.load_state_dict(module.BatchNorm!.state_dict());
        var x = ChannelsLast.Of(randn(8, 16, 1, 1, generator: generator));
        var upstream = randn(8, 16, 1, 1, generator: generator);

        var referenceWeight = module.Conv.weight!.detach().clone().requires_grad_();
        var expected = referenceNorm.forward(nn.functional.conv2d(x, referenceWeight, padding: [2, 2], groups: 16));
        (expected * upstream).sum().backward();
        var actual = new FastConv2dBN(module).forward(x);
        (actual * upstream).sum().backward();

        Assert.True(TestFiles.MaxAbsDiff(expected, actual) < 1e-5f);
        // Relative: through a norm over 8 samples of one tap each, a small tap's gradient is large.
        var weightGradientScale = referenceWeight.grad!.abs().max().item<float>();
        Assert.True(TestFiles.MaxAbsDiff(referenceWeight.grad!, module.Conv.weight!.grad!) < 1e-5f * weightGradientScale);
        Assert.True(TestFiles.MaxAbsDiff(referenceNorm.running_mean!, module.BatchNorm.running_mean!) < 1e-6f);
        Assert.True(TestFiles.MaxAbsDiff(referenceNorm.running_var!, module.BatchNorm.running_var!) < 1e-6f);
    }

    // Anything else stays libtorch's convolution: a depthwise one with more than one output pixel or with a window
    // that leaves part of the map out, a grouped but not depthwise one, a full 3x3 one of a 1x1 map, a 1x1 one of a
    // larger map or with padding.
    [Theory]
    [InlineData(3, 1, 1, 2, 8, 8)]
    [InlineData(3, 2, 1, 3, 8, 8)]
    [InlineData(3, 3, 1, 3, 8, 8)]
    [InlineData(3, 1, 1, 1, 8, 4)]
    [InlineData(3, 1, 1, 1, 8, 1)]
    [InlineData(1, 1, 0, 2, 8, 1)]
    [InlineData(1, 1, 1, 1, 8, 1)]
    public void Leaves_other_convolutions_to_libtorch(int kernelSize, int stride, int padding, int side, int inChannels, int groups)
    {
        using var scope = NewDisposeScope();
        using var conv = nn.Conv2d(inChannels, inChannels, kernelSize, stride, padding, groups: groups, bias: false);
        var x = zeros(2, inChannels, side, side);
        Assert.False(OnePixelConvolution.Applies(conv, kernelSize, stride, padding, groups, x));
    }
}
