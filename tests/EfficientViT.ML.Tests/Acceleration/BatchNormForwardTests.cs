using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

public class BatchNormForwardTests
{
    // TorchSharp's own module is the reference: same outputs, running statistics and batch count, in
    // training (batch statistics, running averages updated) and in evaluation (running statistics).
    // Maps of 5x5 take libtorch's NCHW kernel, 2x2 and 1x3 the channels-last rows.
    [Theory]
    [InlineData(0.1, 5, 5)]
    [InlineData(null, 5, 5)]
    [InlineData(0.1, 2, 2)]
    [InlineData(null, 1, 3)]
    public void Matches_torchsharp_s_batch_norm_module_in_training_and_evaluation(double? momentum, int height, int width)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        using var reference = nn.BatchNorm2d(4);
        using var ours = nn.BatchNorm2d(4);
        reference.momentum = momentum;
        ours.momentum = momentum;
        using (no_grad())
        {
            reference.weight.copy_(rand(4, generator: generator) + 0.5);
            reference.bias!.copy_(randn(4, generator: generator));
        }
        ours.load_state_dict(reference.state_dict());

        foreach (var training in new[] { true, true, true, false })
        {
            reference.train(training);
            ours.train(training);
            var x = randn(3, 4, height, width, generator: generator) * 2 + 1;
            var expected = reference.forward(x);
            var actual = BatchNormForward.Apply(ours, x);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(actual.is_contiguous());
            Assert.True(TestFiles.MaxAbsDiff(expected, actual) < 1e-5f);
        }
        Assert.Equal(3, ours.num_batches_tracked!.item<long>());
        Assert.True(TestFiles.MaxAbsDiff(reference.running_mean!, ours.running_mean!) < 1e-6f);
        Assert.True(TestFiles.MaxAbsDiff(reference.running_var!, ours.running_var!) < 1e-6f);
        Assert.True(TestFiles.MaxAbsDiff(reference.running_mean!, zeros(4)) > 0.1f, "the running mean moved");
    }

    // The backward pass through the channels-last rows gives the module's gradients for the input,
    // the scale and the shift (an upstream gradient that differs per element, so no term cancels).
    [Theory]
    [InlineData(2, 2)]
    [InlineData(6, 6)]
    public void Gives_the_module_s_gradients(int height, int width)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        using var reference = nn.BatchNorm2d(5);
        using var ours = nn.BatchNorm2d(5);
        using (no_grad())
        {
            reference.weight.copy_(rand(5, generator: generator) + 0.5);
            reference.bias!.copy_(randn(5, generator: generator));
        }
        ours.load_state_dict(reference.state_dict());
        var x = randn(4, 5, height, width, generator: generator);
        var upstream = randn(4, 5, height, width, generator: generator);

        var referenceInput = x.clone().requires_grad_();
        (reference.forward(referenceInput) * upstream).sum().backward();
        var ourInput = x.clone().requires_grad_();
        (BatchNormForward.Apply(ours, ourInput) * upstream).sum().backward();

        Assert.True(TestFiles.MaxAbsDiff(referenceInput.grad!, ourInput.grad!) < 1e-5f);
        Assert.True(TestFiles.MaxAbsDiff(reference.weight.grad!, ours.weight.grad!) < 1e-5f);
        Assert.True(TestFiles.MaxAbsDiff(reference.bias.grad!, ours.bias!.grad!) < 1e-5f);
        Assert.True(referenceInput.grad!.abs().max().item<float>() > 0.01f, "the input gradient is not trivially zero");
    }
}
