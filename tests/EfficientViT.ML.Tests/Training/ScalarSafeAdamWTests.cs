using EfficientViT.ML.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Training;

[Collection(TorchGlobalStateCollection.Name)]
public class ScalarSafeAdamWTests
{
    // Two parameters per group; the loss gives each step different gradients.
    private static Parameter[] Parameters(int seed)
    {
        var generator = new Generator((ulong)seed);
        return Enumerable.Range(0, 4).Select(i => new Parameter(randn(new long[] { 3, 5 }, generator: generator))).ToArray();
    }

    private static void Train(optim.Optimizer optimizer, Parameter[] parameters, int steps)
    {
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = parameters.Select((p, i) => (p * p * (i + 1)).sum() + (p * (step + 1)).sin().sum()).Aggregate((a, b) => a + b);
            loss.backward();
            optimizer.step();
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Its_steps_equal_torchsharps_adamw(bool amsgrad, bool maximize)
    {
        using var scope = NewDisposeScope();
        AdamW.ParamGroup[] Groups(Parameter[] p) =>
        [
            new(p.Take(2), lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-6, weight_decay: 0.05, amsgrad: amsgrad, maximize: maximize),
            new(p.Skip(2), lr: 0.003, beta1: 0.8, beta2: 0.999, eps: 1e-8, weight_decay: 0, amsgrad: amsgrad, maximize: maximize),
        ];
        var expected = Parameters(seed: 3);
        var actual = Parameters(seed: 3);
        using var reference = optim.AdamW(Groups(expected));
        using var safe = new ScalarSafeAdamW(Groups(actual), lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01);

        Train(reference, expected, steps: 6);
        Train(safe, actual, steps: 6);

        for (var i = 0; i < expected.Length; i++)
        {
            Assert.False(expected[i].allclose(Parameters(seed: 3)[i]), $"parameter {i} did not move");
            var difference = (expected[i] - actual[i]).abs().max().ToSingle();
            Assert.True(difference <= 1e-7f, $"parameter {i}: max abs difference {difference}");
        }
    }
}
