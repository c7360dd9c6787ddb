using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Modeling;

public class BatchNormForwardTests
{
    // TorchSharp's own module is the reference: same outputs, running statistics and batch count, in
    // training (batch statistics, running averages updated) and in evaluation (running statistics).
    [Theory]
    [InlineData(0.1)]
    [InlineData(null)]
    public void Matches_torchsharp_s_batch_norm_module_in_training_and_evaluation(double? momentum)
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
            var x = randn(3, 4, 5, 5, generator: generator) * 2 + 1;
            Assert.True(TestFiles.MaxAbsDiff(reference.forward(x), BatchNormForward.Apply(ours, x)) < 1e-6f);
        }
        Assert.Equal(3, ours.num_batches_tracked!.item<long>());
        Assert.True(TestFiles.MaxAbsDiff(reference.running_mean!, ours.running_mean!) < 1e-6f);
        Assert.True(TestFiles.MaxAbsDiff(reference.running_var!, ours.running_var!) < 1e-6f);
        Assert.True(TestFiles.MaxAbsDiff(reference.running_mean!, zeros(4)) > 0.1f, "the running mean moved");
    }
}
