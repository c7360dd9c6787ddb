using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Modeling;
using EfficientViT.ML.Tests.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

/// <summary>
/// What a training step's dispose scope keeps alive, counted tensor by tensor: a tensor the step's scope holds is freed
/// only when the step ends, whatever the autograd graph needs. After the forward pass the scope holds none of the
/// patch embedding's maps (with and without activation checkpointing), and the backward pass leaves at most one custom
/// function's gradient handles in it, not one per mark in the graph.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class TrainingStepScopeTests
{
    private const int Batch = 4, Side = 64;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_step_scope_holds_no_map_of_the_patch_embedding_after_the_forward_pass(bool checkpoint)
    {
        using var model = Model();
        using var acceleration = new TrainingAcceleration(model, channelsLast: true, keepFreedNativeMemory: false, checkpointActivations: checkpoint);
        using var images = randn(Batch, 3, Side, Side, generator: new Generator(21));
        using var input = acceleration.Input(images);
        using var scope = NewDisposeScope();
        model.forward(input);

        // The input is made outside the scope. The patch embedding's maps are at half to a sixteenth of the input's side; the first stage's are at a sixteenth.
        var maps = LiveTensors(scope).Where(t => t.dim() == 4 && t.shape[2] > Side / 16).Select(Describe).ToList();
        Assert.True(maps.Count == 0, $"the step's scope holds {maps.Count} patch-embedding maps: {string.Join(", ", maps)}");
        // The stage outputs the backward pass needs are still there: what is counted is alive.
        Assert.Contains(LiveTensors(scope), t => t.dim() == 4 && t.shape[2] == Side / 16);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_backward_pass_leaves_the_gradient_handles_of_one_custom_function_at_most(bool checkpoint)
    {
        using var model = Model();
        using var acceleration = new TrainingAcceleration(model, channelsLast: true, keepFreedNativeMemory: false, checkpointActivations: checkpoint);
        using var images = randn(Batch, 3, Side, Side, generator: new Generator(22));
        using var labels = tensor(new long[] { 0, 1, 2, 3 });
        using var scope = NewDisposeScope();
        var loss = nn.functional.cross_entropy(model.forward(acceleration.Input(images)), labels);
        var beforeBackward = LiveTensors(scope).ToHashSet(ReferenceEqualityComparer.Instance);

        loss.backward();

        // The graph holds a mark (BackwardHook) at every attention's keys and at the last stage's output, and with
        // checkpointing a function per part: each handed TorchSharp an incoming and an outgoing gradient handle.
        var added = LiveTensors(scope).Where(t => !beforeBackward.Contains(t)).Select(Describe).ToList();
        Assert.True(added.Count <= 2, $"the backward pass left {added.Count} tensors in the step's scope: {string.Join(", ", added)}");
    }

    private static EfficientVit Model()
    {
        var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: Side, numClasses: 10);
        RandomWeights.Apply(model);
        model.train();
        return model;
    }

    private static List<Tensor> LiveTensors(DisposeScope scope) =>
        scope.DisposablesView.OfType<Tensor>().Where(t => !t.IsInvalid).ToList();

    private static string Describe(Tensor t) => $"({string.Join('x', t.shape)})";
}
