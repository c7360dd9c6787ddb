using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// Parameters and their gradients held as views into one contiguous buffer each, so that an optimizer
/// or gradient clipping can treat all of them (or one parameter group, a contiguous range) in a handful
/// of native calls instead of several per tensor.
/// </summary>
/// <remarks>
/// Each parameter keeps its object, shape and memory layout (channels-last weights stay channels-last);
/// only its storage moves into the buffer, so module fields, <c>state_dict</c> keys and optimizer state
/// keys are unchanged. Each parameter's <c>.grad</c> is set to the matching view of the gradient buffer:
/// libtorch's backward pass accumulates into a defined gradient in place, so gradients land there as long
/// as nothing replaces them (zeroing must be in place, never "set to none"). Code that gives a parameter
/// new storage (<see cref="ChannelsLast.Restore"/> before saving) moves it out of the buffer;
/// <see cref="EnsureBound"/> copies it back, keeping the layout recorded here.
/// </remarks>
internal sealed class FlatParameters : IDisposable
{
    private const long AlignmentElements = 16;

    private readonly Entry[] entries;
    private readonly (long Start, long Length)[] groupRanges;
    private readonly IntPtr valuesAddress;
    private readonly IntPtr gradientsAddress;

    /// <param name="groups">The parameters, group by group; each group becomes one contiguous range.</param>
    public FlatParameters(IReadOnlyList<IReadOnlyList<Parameter>> groups)
    {
        var all = groups.SelectMany(group => group).ToList();
        if (all.Count == 0)
            throw new ArgumentException("There are no parameters to lay out.", nameof(groups));
        var first = all[0];
        if (first.dtype != ScalarType.Float32)
            throw new ArgumentException($"Flat buffers hold float32 parameters; found {first.dtype}.", nameof(groups));
        foreach (var parameter in all)
        {
            if (parameter.dtype != first.dtype || parameter.device_type != first.device_type)
                throw new ArgumentException($"One buffer holds one type: found {parameter.dtype} on {parameter.device_type} beside {first.dtype} on {first.device_type}.", nameof(groups));
        }
        if (all.Distinct(ReferenceEqualityComparer.Instance).Count() != all.Count)
            throw new ArgumentException("A parameter appears twice.", nameof(groups));

        // Within a group, parameters whose clipping units have the same length lie side by side, so that
        // each such run is one (units, length) matrix for adaptive clipping (see Runs).
        var list = new List<Entry>();
        var indices = all.Select((parameter, index) => (parameter, index)).ToDictionary(pair => (object)pair.parameter, pair => pair.index, ReferenceEqualityComparer.Instance);
        var runs = new List<UnitRun>();
        groupRanges = new (long, long)[groups.Count];
        long offset = 0;
        for (var g = 0; g < groups.Count; g++)
        {
            offset = Aligned(offset);
            var start = offset;
            foreach (var run in groups[g].GroupBy(UnitLength).OrderBy(run => run.Key))
            {
                offset = Aligned(offset);
                var units = 0L;
                foreach (var parameter in run)
                {
                    list.Add(new Entry(indices[parameter], parameter, offset, parameter.shape, DenseStrides(parameter)));
                    offset += parameter.numel();
                    units += run.Key == 0 ? 0 : parameter.numel() / run.Key;
                }
                if (units > 0)
                    runs.Add(new UnitRun(offset - units * run.Key, units, run.Key));
            }
            groupRanges[g] = (start, offset - start);
        }
        Runs = runs;
        // Entries in the groups' own order (the optimizer's state order), whatever their place in the buffer.
        list.Sort((a, b) => a.Index.CompareTo(b.Index));
        entries = list.ToArray();
        Count = offset;
        Values = zeros(new[] { offset }, first.dtype, first.device).DetachFromDisposeScope();
        Gradients = zeros(new[] { offset }, first.dtype, first.device).DetachFromDisposeScope();
        valuesAddress = Address(Values);
        gradientsAddress = Address(Gradients);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var entry in entries)
        {
            var values = ViewOf(Values, entry);
            values.copy_(entry.Parameter);
            entry.Parameter.set_(values);
            entry.Parameter.grad = ViewOf(Gradients, entry);
        }
    }

    /// <summary>Every parameter's values, group after group (with zeros in the gaps that align each run).</summary>
    public Tensor Values { get; }

    /// <summary>Every parameter's gradient, at the same positions as <see cref="Values"/>.</summary>
    public Tensor Gradients { get; }

    /// <summary>Elements in all, the gaps that align each run included.</summary>
    public long Count { get; }

    /// <summary>The parameters, group by group in the order given (not necessarily their order in the buffer).</summary>
    public IEnumerable<Parameter> Parameters => entries.Select(entry => entry.Parameter);

    /// <summary>Where group <paramref name="group"/> lies in the buffers.</summary>
    public (long Start, long Length) GroupRange(int group) => groupRanges[group];

    /// <summary>
    /// A view of <paramref name="buffer"/> (a tensor of <see cref="Count"/> elements laid out as
    /// <see cref="Values"/>) shaped and strided as the <paramref name="index"/>-th parameter.
    /// </summary>
    public Tensor ViewOf(Tensor buffer, int index) => ViewOf(buffer, entries[index]);

    /// <summary>Zeroes every gradient in one call, and gives back its view to any parameter whose gradient was replaced.</summary>
    public void ZeroGradients()
    {
        Gradients.zero_();
        using var scope = NewDisposeScope();
        foreach (var entry in entries)
        {
            if (!IsGradientBound(entry))
                entry.Parameter.grad = ViewOf(Gradients, entry);
        }
    }

    /// <summary>
    /// Moves back into the buffers (values copied, layout as recorded) every parameter that was given new
    /// storage since it was laid out, and every gradient that was replaced (by <c>Module.zero_grad</c>
    /// setting it to none and a backward pass making a new one; a missing gradient counts as zero). Call
    /// between a backward pass and the next forward pass, never in between: moving a parameter's storage
    /// counts as changing it in place for autograd.
    /// </summary>
    public void EnsureBound()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var entry in entries)
        {
            if (Address(entry.Parameter) != valuesAddress + (nint)(entry.Offset * entry.Parameter.element_size()))
            {
                var values = ViewOf(Values, entry);
                values.copy_(entry.Parameter);
                entry.Parameter.set_(values);
            }
            if (!IsGradientBound(entry))
            {
                var gradient = ViewOf(Gradients, entry);
                if (entry.Parameter.grad is { } replaced)
                    gradient.copy_(replaced);
                else
                    gradient.zero_();
                entry.Parameter.grad = gradient;
            }
        }
    }

    private bool IsGradientBound(Entry entry) =>
        entry.Parameter.grad is { } gradient && Address(gradient) == gradientsAddress + (nint)(entry.Offset * gradient.element_size())
        && gradient.stride().SequenceEqual(entry.Strides);

    /// <summary>
    /// The buffers cut into runs of clipping units of one length each, in buffer order, covering every
    /// element: a unit is each index along dim 0 of a tensor of two or more dimensions, or a whole tensor of
    /// fewer, as adaptive gradient clipping counts them. A unit is one contiguous stretch of the buffer in
    /// both the contiguous and the channels-last layout, since dim 0 is the outermost dimension of both.
    /// </summary>
    public IReadOnlyList<UnitRun> Runs { get; }

    /// <summary>Frees the buffers (parameters still in them keep their storage alive).</summary>
    public void Dispose()
    {
        Values.Dispose();
        Gradients.Dispose();
    }

    // Runs start at 64 bytes, as libtorch's own allocations do, for the vector loads of the kernels that
    // read the parameters; within a run most parameters stay aligned (their sizes are multiples of 16
    // floats in EfficientViT). The gaps hold zeros, which every update leaves at zero.
    private static long Aligned(long offset) => (offset + AlignmentElements - 1) / AlignmentElements * AlignmentElements;

    private static long UnitLength(Tensor parameter)
    {
        var shape = parameter.shape;
        var units = shape.Length >= 2 ? shape[0] : 1;
        return units == 0 ? 0 : parameter.numel() / units;
    }

    private static Tensor ViewOf(Tensor buffer, Entry entry) => buffer.as_strided(entry.Shape, entry.Strides, entry.Offset);

    private static IntPtr Address(Tensor tensor)
    {
        using var storage = tensor.storage<float>();
        return storage.data_ptr() + (nint)(tensor.storage_offset() * tensor.element_size());
    }

    // The parameter's own strides when it is dense (contiguous or channels-last), so that the view in the
    // buffer keeps the layout its kernels are fastest with; row-major strides otherwise.
    private static long[] DenseStrides(Tensor parameter)
    {
        if (ChannelsLast.Is(parameter))
            return parameter.stride();
        var shape = parameter.shape;
        var strides = new long[shape.Length];
        long stride = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= Math.Max(1, shape[i]);
        }
        return strides;
    }

    private sealed record Entry(int Index, Parameter Parameter, long Offset, long[] Shape, long[] Strides);
}

/// <summary>Consecutive clipping units of one length in a flat buffer: <c>buffer.narrow(0, Start, Units * Length).view(Units, Length)</c>.</summary>
internal sealed record UnitRun(long Start, long Units, long Length);
