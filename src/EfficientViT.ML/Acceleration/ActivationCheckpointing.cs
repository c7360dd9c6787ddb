using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Activation checkpointing: while installed, each of the model's four parts (the patch embedding and the three
/// stages) keeps only its input for the backward pass, not the activations of its layers. Its forward pass runs
/// without a graph; when the backward pass reaches its output, the part runs again on the kept input with a graph,
/// and that graph's backward pass gives the gradients of its weights and of its input. Training then holds the
/// activations of one part at a time instead of all, for one more forward pass of the network per step.
/// </summary>
/// <remarks>
/// The recomputation computes what the first pass did: the same random draws (stochastic depth; the default
/// generator's state is replayed and put back afterwards), and BatchNorm normalizes with the same batch statistics
/// without updating its running statistics a second time (<see cref="BatchNormForward.Recomputing"/>). It needs the
/// fast layers (<see cref="FastLayers"/>), whose BatchNorm forward pass knows of the recomputation.
/// </remarks>
internal sealed class ActivationCheckpointing : IDisposable
{
    private readonly EfficientVit model;

    // A leaf that requires a gradient, given to every checkpointed part: libtorch records the part in the graph only
    // when one of its inputs requires a gradient, and the patch embedding's input (the images) does not.
    private readonly Tensor anchor;

    private ActivationCheckpointing(EfficientVit model)
    {
        this.model = model;
        anchor = zeros(1, requires_grad: true).DetachFromDisposeScope();
        model.StageRunner = Run;
    }

    /// <summary>Checkpoints the parts of <paramref name="model"/> until disposed.</summary>
    public static ActivationCheckpointing Install(EfficientVit model)
    {
        if (model.StageRunner is not null)
            throw new InvalidOperationException("This model's parts are run another way already.");
        return new ActivationCheckpointing(model);
    }

    /// <summary>Runs the model's parts as it did before.</summary>
    public void Dispose()
    {
        model.StageRunner = null;
        anchor.Dispose();
    }

    private Tensor Run(nn.Module<Tensor, Tensor> stage, Tensor x) =>
        // Without a graph to build (evaluation, no_grad) there is nothing to save and nothing to recompute.
        is_grad_enabled() && stage.training ? RecomputedStage.apply(x, new Recomputation(stage), anchor) : stage.call(x);

    private sealed record Recomputation(nn.Module<Tensor, Tensor> Stage)
    {
        /// <summary>The default generator's state when the part first ran, for the same random draws again.</summary>
        public Tensor? RandomState { get; set; }
    }

    private sealed class RecomputedStage : autograd.SingleTensorFunction<RecomputedStage>
    {
        private const string Data = "recomputation";

        public override string Name => nameof(RecomputedStage);

        // Runs without a graph (as every custom function's forward pass does); keeps the input and the random state.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (input, recomputation) = ((Tensor)vars[0], (Recomputation)vars[1]);
            using (var generator = Generator.Default)
                recomputation.RandomState = generator.get_state().DetachFromDisposeScope();
            ctx.save_for_backward([input]);
            ctx.save_data(Data, recomputation);
            // In a scope of its own: without a graph nothing of the part but its output is needed, and the step's
            // scope would keep every intermediate (all of the patch embedding's maps) until the step ends.
            return PartScopes.Run(recomputation.Stage, input);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradient)
        {
            BackwardTensors.ReleaseEarlier();
            var recomputation = (Recomputation)ctx.get_data(Data);
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables()[0];
            var input = saved.detach().requires_grad_(saved.requires_grad);
            using var generator = Generator.Default;
            var later = generator.get_state();
            Tensor output;
            using (enable_grad())
            using (BatchNormForward.Recomputing())
            {
                generator.set_state(recomputation.RandomState!);
                // Only what the graph holds stays alive through the part's backward pass.
                output = PartScopes.Run(recomputation.Stage, input);
            }
            generator.set_state(later);
            recomputation.RandomState!.Dispose();
            recomputation.RandomState = null;
            // Accumulates the weights' gradients where the step's backward pass puts them; the input's comes back.
            autograd.backward([output], [gradient]);
            var inputGradient = input.requires_grad ? input.grad?.MoveToOuterDisposeScope() : null;
            BackwardTensors.ReleaseLater(gradient, inputGradient);
            return [inputGradient!, null!, null!];
        }
    }
}
