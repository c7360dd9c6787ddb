using static System.FormattableString;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// A named attribute of a graph node, e.g. <c>OnnxAttribute.Ints("pads", 1, 1, 1, 1)</c>.
/// Create one with the static factories; the value arrays are copied.
/// </summary>
internal sealed class OnnxAttribute
{
    private OnnxAttribute(string name, OnnxAttributeKind kind, long intValue = 0, float floatValue = 0,
        string? stringValue = null, long[]? intValues = null, float[]? floatValues = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Kind = kind;
        IntValue = intValue;
        FloatValue = floatValue;
        StringValue = stringValue;
        IntValues = intValues ?? [];
        FloatValues = floatValues ?? [];
    }

    /// <summary>The attribute name, as the operator's specification spells it.</summary>
    public string Name { get; }

    internal OnnxAttributeKind Kind { get; }
    internal long IntValue { get; }
    internal float FloatValue { get; }
    internal string? StringValue { get; }
    internal long[] IntValues { get; }
    internal float[] FloatValues { get; }

    /// <summary>An integer attribute (ONNX type INT).</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, OnnxAttributeKind.Int, intValue: value);

    /// <summary>An integer list attribute (ONNX type INTS).</summary>
    public static OnnxAttribute Ints(string name, params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(name, OnnxAttributeKind.Ints, intValues: (long[])values.Clone());
    }

    /// <summary>A float attribute (ONNX type FLOAT).</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, OnnxAttributeKind.Float, floatValue: value);

    /// <summary>A float list attribute (ONNX type FLOATS).</summary>
    public static OnnxAttribute Floats(string name, params float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(name, OnnxAttributeKind.Floats, floatValues: (float[])values.Clone());
    }

    /// <summary>A string attribute (ONNX type STRING, stored as UTF-8).</summary>
    public static OnnxAttribute String(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(name, OnnxAttributeKind.String, stringValue: value);
    }

    /// <summary>The name and the value, for messages and debugging (numbers in invariant culture).</summary>
    public override string ToString() => Kind switch
    {
        OnnxAttributeKind.Int => Invariant($"{Name}={IntValue}"),
        OnnxAttributeKind.Float => Invariant($"{Name}={FloatValue}"),
        OnnxAttributeKind.String => $"{Name}=\"{StringValue}\"",
        OnnxAttributeKind.Ints => $"{Name}=[{string.Join(", ", IntValues.Select(v => Invariant($"{v}")))}]",
        _ => $"{Name}=[{string.Join(", ", FloatValues.Select(v => Invariant($"{v}")))}]",
    };
}

/// <summary>The attribute types this writer supports, numbered as onnx.proto's <c>AttributeProto.AttributeType</c>.</summary>
internal enum OnnxAttributeKind
{
    Float = 1,
    Int = 2,
    String = 3,
    Floats = 6,
    Ints = 7,
}
