using System.Globalization;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// One dimension of a graph input's or output's shape: either a fixed size or a symbolic name such as
/// <c>"batch"</c>, which leaves the size free at run time (dimensions that share a name must agree).
/// </summary>
/// <remarks>Converts implicitly from <see cref="long"/> (fixed) and <see cref="string"/> (symbolic).</remarks>
internal readonly record struct OnnxDimension
{
    private OnnxDimension(long size, string? name)
    {
        Size = size;
        Name = name;
    }

    /// <summary>The fixed size; 0 when the dimension is symbolic.</summary>
    public long Size { get; }

    /// <summary>The symbolic name, or <see langword="null"/> for a fixed size.</summary>
    public string? Name { get; }

    /// <summary>Whether the dimension is a symbolic name rather than a fixed size.</summary>
    public bool IsSymbolic => Name is not null;

    /// <summary>A dimension of fixed size.</summary>
    /// <param name="size">The size, 0 or more.</param>
    public static OnnxDimension Fixed(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return new OnnxDimension(size, null);
    }

    /// <summary>A symbolic dimension, sized at run time.</summary>
    /// <param name="name">The name, e.g. <c>"batch"</c>; not empty or blank.</param>
    public static OnnxDimension Symbolic(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new OnnxDimension(0, name);
    }

    /// <summary>Converts a size to a fixed dimension.</summary>
    public static implicit operator OnnxDimension(long size) => Fixed(size);

    /// <summary>Converts a name to a symbolic dimension.</summary>
    public static implicit operator OnnxDimension(string name) => Symbolic(name);

    /// <summary>The name, or the size in invariant digits.</summary>
    public override string ToString() => Name ?? Size.ToString(CultureInfo.InvariantCulture);
}
