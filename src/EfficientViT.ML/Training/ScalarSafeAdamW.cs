using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// TorchSharp's AdamW, with the same update in the same order of operations, but every number of the
/// update held as a <see cref="Scalar"/> until libtorch has used it. TorchSharp's own step passes about
/// eight temporary Scalars per parameter, any of which the finalizer thread can free mid-call (see
/// <see cref="ScalarSafe"/>). State, groups and saved optimizer states are AdamW's.
/// </summary>
/// <remarks>
/// <para>
/// With <c>flat</c>, the parameters, their gradients and both moments live in one buffer each
/// (<see cref="FlatParameters"/>), every group a contiguous range, and a step is six native calls per group
/// instead of about ten per parameter tensor, of which M0 has 354. The arithmetic is
/// the same element by element. The flat update has neither AMSGrad nor maximize, and every parameter of a
/// group takes every step (its gradient is zero, not missing, when the loss does not reach it).
/// </para>
/// <para>The class keeps its name: saved optimizer states (<c>optimizer.bin</c>) record it, flat or not.</para>
/// </remarks>
internal sealed class ScalarSafeAdamW : AdamW
{
    private readonly FlatParameters? flat;
    private readonly Tensor? flatAverage;
    private readonly Tensor? flatSquaredAverage;
    // Contiguous copies of the moments handed out by state_dict(): TorchSharp saves only contiguous tensors and
    // loads into the tensors it is given, so a load lands here and is copied into the buffers before the next step.
    private List<(State View, State Copy)>? handedOut;

    public ScalarSafeAdamW(IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay, bool flat = false)
        : base(groups, lr, beta1, beta2, eps, weightDecay)
    {
        if (!flat)
        {
            ContiguousMoments();
            return;
        }
        var parameterGroups = _parameter_groups.Select(group => (IReadOnlyList<Parameter>)group.Parameters.ToList()).ToList();
        foreach (var group in _parameter_groups)
        {
            var options = (Options)group.Options;
            if (options.amsgrad == true || options.maximize == true)
                throw new ArgumentException("The flat AdamW update has neither AMSGrad nor maximize.", nameof(groups));
        }

        this.flat = new FlatParameters(parameterGroups);
        flatAverage = zeros_like(this.flat.Values).DetachFromDisposeScope();
        flatSquaredAverage = zeros_like(this.flat.Values).DetachFromDisposeScope();
        var index = 0;
        foreach (var parameter in this.flat.Parameters)
        {
            var state = (State)_state[parameter.Handle];
            state.Dispose();
            state.exp_avg = this.flat.ViewOf(flatAverage, index).DetachFromDisposeScope();
            state.exp_avg_sq = this.flat.ViewOf(flatSquaredAverage, index).DetachFromDisposeScope();
            index++;
        }
    }

    /// <summary>Whether parameters, gradients and moments live in flat buffers.</summary>
    public bool IsFlat => flat is not null;

    /// <summary>The flat buffers, for clipping the gradients in a few calls; null unless <see cref="IsFlat"/>.</summary>
    internal FlatParameters? Flat => flat;

    /// <inheritdoc/>
    public override void add_param_group(TorchSharp.Modules.ParamGroup param_group)
    {
        // The base constructor adds the first groups before the buffers exist; later groups would fall outside them.
        if (flat is not null)
            throw new NotSupportedException("A flat AdamW cannot take new parameter groups: build a new optimizer.");
        base.add_param_group(param_group);
    }

    /// <summary>
    /// The groups' options and, for a flat optimizer, each parameter's state as contiguous copies (the buffers'
    /// views may be channels-last, which TorchSharp cannot save): the same format as per-tensor AdamW's.
    /// Loading a state into these copies takes effect at the next step.
    /// </summary>
    public override StateDictionary state_dict()
    {
        var dictionary = base.state_dict();
        if (flat is null)
            return dictionary;
        TakeBackHandedOut();
        handedOut = new List<(State, State)>();
        using var noGrad = no_grad();
        // base.state_dict() lists the states in group and parameter order, the buffer's order.
        var i = 0;
        foreach (var parameter in flat.Parameters)
        {
            var view = (State)dictionary.State[i];
            var copy = new State(parameter);
            // The constructor may have made zero moments of its own.
            copy.exp_avg?.Dispose();
            copy.exp_avg_sq?.Dispose();
            copy.max_exp_avg_sq?.Dispose();
            copy.max_exp_avg_sq = null;
            copy.step = view.step;
            copy.exp_avg = view.exp_avg.contiguous().DetachFromDisposeScope();
            copy.exp_avg_sq = view.exp_avg_sq.contiguous().DetachFromDisposeScope();
            dictionary.State[i++] = copy;
            handedOut.Add((view, copy));
        }
        return dictionary;
    }

    /// <inheritdoc/>
    public override void zero_grad()
    {
        if (flat is null)
            base.zero_grad();
        else
            flat.ZeroGradients();
    }

    /// <inheritdoc/>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        flat?.EnsureBound();
        TakeBackHandedOut();
        var groupIndex = 0;
        return _step<ParamGroup>(group =>
        {
            if (flat is null)
                StepEach(group);
            else
                StepFlat(group, groupIndex++);
        }, closure);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing)
            return;
        foreach (var (_, copy) in handedOut ?? [])
            copy.Dispose();
        flat?.Dispose();
        flatAverage?.Dispose();
        flatSquaredAverage?.Dispose();
    }

    // AdamW makes its moments in the layout of the parameters; TorchSharp saves only contiguous tensors, so
    // moments of channels-last weights are made contiguous (the values are zero either way).
    private void ContiguousMoments()
    {
        foreach (var state in _state.Values.Cast<State>())
        {
            if (!state.exp_avg.is_contiguous())
                Replace(ref state.exp_avg);
            if (!state.exp_avg_sq.is_contiguous())
                Replace(ref state.exp_avg_sq);
            if (state.max_exp_avg_sq is { } maximum && !maximum.is_contiguous())
                Replace(ref state.max_exp_avg_sq);
        }

        static void Replace(ref Tensor moment)
        {
            var contiguous = zeros(moment.shape, moment.dtype, moment.device).DetachFromDisposeScope();
            moment.Dispose();
            moment = contiguous;
        }
    }

    // Copies what state_dict() handed out (loaded into, or unchanged) back into the buffers.
    private void TakeBackHandedOut()
    {
        if (handedOut is null)
            return;
        using var noGrad = no_grad();
        foreach (var (view, copy) in handedOut)
        {
            if (copy.max_exp_avg_sq is not null)
                throw new InvalidDataException("The loaded optimizer state has AMSGrad maxima; the flat AdamW update has none.");
            view.step = copy.step;
            view.exp_avg.copy_(copy.exp_avg);
            view.exp_avg_sq.copy_(copy.exp_avg_sq);
            copy.Dispose();
        }
        handedOut = null;
    }

    private void StepFlat(ParamGroup group, int groupIndex)
    {
        var options = (Options)group.Options;
        var (beta1, beta2, lr) = (options.beta1!.Value, options.beta2!.Value, options.LearningRate!.Value);
        long? steps = null;
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            state.step += 1;
            if (steps is { } expected && state.step != expected)
                throw new InvalidOperationException($"The parameters of group {groupIndex} have taken different numbers of steps ({expected} and {state.step}); the flat update needs one count per group.");
            steps = state.step;
        }
        if (steps is not { } step)
            return;

        var (start, length) = flat!.GroupRange(groupIndex);
        var values = flat.Values.narrow(0, start, length);
        var grad = flat.Gradients.narrow(0, start, length);
        var average = flatAverage!.narrow(0, start, length);
        var squaredAverage = flatSquaredAverage!.narrow(0, start, length);
        var biasCorrection1 = 1 - Math.Pow(beta1, step);
        var biasCorrection2 = 1 - Math.Pow(beta2, step);
        using var scalars = new GroupScalars(options);
        using var correction = Math.Sqrt(biasCorrection2).ToScalar();
        using var stepSize = (-lr / biasCorrection1).ToScalar();

        values.mul_(scalars.DecayFactor);
        average.mul_(scalars.Beta1).add_(grad, scalars.GradientWeight);
        squaredAverage.mul_(scalars.Beta2).addcmul_(grad, grad, scalars.SquareWeight);
        var denominator = squaredAverage.sqrt().div_(correction).add_(scalars.Eps, ScalarSafe.One);
        values.addcdiv_(average, denominator, stepSize);
    }

    private void StepEach(ParamGroup group)
    {
        var options = (Options)group.Options;
        var (beta1, beta2, lr) = (options.beta1!.Value, options.beta2!.Value, options.LearningRate!.Value);
        var (amsgrad, maximize) = (options.amsgrad!.Value, options.maximize!.Value);
        using var scalars = new GroupScalars(options);
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null)
                continue;
            if (maximize)
                grad = -grad;
            state.step += 1;

            param.mul_(scalars.DecayFactor);
            var biasCorrection1 = 1 - Math.Pow(beta1, state.step);
            var biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            state.exp_avg.mul_(scalars.Beta1).add_(grad, scalars.GradientWeight);
            state.exp_avg_sq.mul_(scalars.Beta2).addcmul_(grad, grad, scalars.SquareWeight);

            Tensor secondMoment = state.exp_avg_sq;
            if (amsgrad)
            {
                var previous = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                previous.Dispose();
                secondMoment = state.max_exp_avg_sq;
            }
            var denominator = secondMoment.sqrt().DividedBy(Math.Sqrt(biasCorrection2)).add_(scalars.Eps, ScalarSafe.One);
            using var stepSize = (-lr / biasCorrection1).ToScalar();
            param.addcdiv_(state.exp_avg, denominator, stepSize);
        }
    }

    // A group's numbers as Scalars, held until the group's update has returned (see ScalarSafe).
    private sealed class GroupScalars : IDisposable
    {
        public GroupScalars(Options options)
        {
            var (beta1, beta2) = (options.beta1!.Value, options.beta2!.Value);
            DecayFactor = (1 - options.LearningRate!.Value * options.weight_decay!.Value).ToScalar();
            Beta1 = beta1.ToScalar();
            Beta2 = beta2.ToScalar();
            GradientWeight = (1 - beta1).ToScalar();
            SquareWeight = (1 - beta2).ToScalar();
            Eps = options.eps!.Value.ToScalar();
        }

        public Scalar DecayFactor { get; }
        public Scalar Beta1 { get; }
        public Scalar Beta2 { get; }
        public Scalar GradientWeight { get; }
        public Scalar SquareWeight { get; }
        public Scalar Eps { get; }

        public void Dispose()
        {
            foreach (var scalar in new[] { DecayFactor, Beta1, Beta2, GradientWeight, SquareWeight, Eps })
                scalar.Dispose();
        }
    }
}
