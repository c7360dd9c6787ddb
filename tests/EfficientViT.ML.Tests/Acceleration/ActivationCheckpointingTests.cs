using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using EfficientViT.ML.Tests.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

/// <summary>
/// A training step with activation checkpointing is the step without it: two models with the same weights, one
/// checkpointed, take one step on the same batch (channels-last, with stochastic depth, so that the recomputation
/// must replay the random draws) and give the same loss, the same gradient for every parameter, and BatchNorm's
/// running statistics and batch counts updated once, as without checkpointing. The steps draw from torch's global
/// generator, so no other test may run meanwhile.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class ActivationCheckpointingTests
{
    [Fact]
    public void A_checkpointed_step_gives_the_gradients_and_statistics_of_a_plain_step()
    {
        using var scope = NewDisposeScope();
        var (plain, checkpointed) = TwoModels();
        using var disposePlain = plain;
        using var disposeCheckpointed = checkpointed;
        var images = randn(4, 3, 64, 64, generator: new Generator(11));
        var labels = tensor(new long[] { 0, 3, 7, 9 });

        var (plainLoss, plainCalls) = Step(plain, images, labels, checkpoint: false);
        var (checkpointedLoss, checkpointedCalls) = Step(checkpointed, images, labels, checkpoint: true);

        // The last stage ran once without checkpointing, and again for the backward pass with it.
        Assert.Equal(1, plainCalls);
        Assert.Equal(2, checkpointedCalls);
        Assert.Equal(plainLoss, checkpointedLoss, 5);
        var checkpointedParameters = checkpointed.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var gradients = 0;
        foreach (var (name, parameter) in plain.named_parameters())
        {
            Assert.NotNull(checkpointedParameters[name].grad);
            AssertClose(parameter.grad!, checkpointedParameters[name].grad!, $"{name} gradient");
            gradients += parameter.grad!.abs().max().item<float>() > 0 ? 1 : 0;
        }
        Assert.True(gradients > 100, $"only {gradients} parameters got a non-zero gradient");
        var checkpointedState = checkpointed.state_dict();
        foreach (var (name, value) in plain.state_dict().Where(pair => pair.Key.Contains("running_", StringComparison.Ordinal)))
            AssertClose(value, checkpointedState[name], name);
        foreach (var (name, value) in plain.state_dict().Where(pair => pair.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
        {
            Assert.Equal(1, value.item<long>());
            Assert.Equal(1, checkpointedState[name].item<long>());
        }
    }

    [Fact]
    public void The_random_generator_continues_as_without_checkpointing()
    {
        using var scope = NewDisposeScope();
        var (plain, checkpointed) = TwoModels();
        using var disposePlain = plain;
        using var disposeCheckpointed = checkpointed;
        var images = randn(2, 3, 64, 64, generator: new Generator(12));
        var labels = tensor(new long[] { 1, 2 });

        Step(plain, images, labels, checkpoint: false);
        var afterPlain = rand(8);
        Step(checkpointed, images, labels, checkpoint: true);
        var afterCheckpointed = rand(8);

        Assert.Equal(afterPlain.data<float>().ToArray(), afterCheckpointed.data<float>().ToArray());
    }

    [Fact]
    public void Evaluation_runs_without_recomputation_and_gives_the_plain_outputs()
    {
        using var scope = NewDisposeScope();
        using var model = Model();
        model.eval();
        var images = randn(2, 3, 64, 64, generator: new Generator(13));
        Tensor expected;
        using (no_grad())
            expected = model.forward(images);
        using var checkpointing = ActivationCheckpointing.Install(model);
        using (no_grad())
            Assert.Equal(0, TestFiles.MaxAbsDiff(expected, model.forward(images)));
    }

    // Two models with the same weights.
    private static (EfficientVit Plain, EfficientVit Checkpointed) TwoModels()
    {
        var plain = Model();
        var checkpointed = Model();
        checkpointed.load_state_dict(plain.state_dict());
        return (plain, checkpointed);
    }

    private static EfficientVit Model()
    {
        var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 10);
        RandomWeights.Apply(model);
        model.SetDropPathRate(0.3);
        return model;
    }

    // One step's forward and backward pass in training mode, from the same random state; the loss, and how often
    // the last stage ran.
    private static (float Loss, int LastStageCalls) Step(EfficientVit model, Tensor images, Tensor labels, bool checkpoint)
    {
        model.train();
        var calls = 0;
        using var acceleration = new TrainingAcceleration(model, channelsLast: true, keepFreedNativeMemory: false, checkpointActivations: checkpoint);
        var hook = model.LastStage.register_forward_hook((_, _, output) =>
        {
            calls++;
            return output;
        });
        try
        {
            using var scope = NewDisposeScope();
            manual_seed(5);
            var loss = nn.functional.cross_entropy(model.forward(acceleration.Input(images)), labels);
            loss.backward();
            return (loss.item<float>(), calls);
        }
        finally
        {
            hook.remove();
        }
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        var scale = Math.Max(1f, expected.abs().max().item<float>());
        var difference = TestFiles.MaxAbsDiff(expected, actual);
        Assert.True(difference <= 1e-4f * scale, $"{what}: differs by {difference} (largest {scale})");
    }
}
