namespace EfficientViT.ML.Onnx;

/// <summary>
/// Element types of ONNX tensors, numbered as in onnx.proto's <c>TensorProto.DataType</c> (the numbers are
/// written to the file as they are).
/// </summary>
internal enum OnnxElementType
{
    /// <summary>32-bit IEEE 754 float.</summary>
    Float = 1,
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8 = 2,
    /// <summary>Signed 8-bit integer.</summary>
    Int8 = 3,
    /// <summary>Unsigned 16-bit integer.</summary>
    UInt16 = 4,
    /// <summary>Signed 16-bit integer.</summary>
    Int16 = 5,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 7,
    /// <summary>UTF-8 string.</summary>
    String = 8,
    /// <summary>Boolean.</summary>
    Bool = 9,
    /// <summary>16-bit IEEE 754 half-precision float.</summary>
    Float16 = 10,
    /// <summary>64-bit IEEE 754 float.</summary>
    Double = 11,
    /// <summary>Unsigned 32-bit integer.</summary>
    UInt32 = 12,
    /// <summary>Unsigned 64-bit integer.</summary>
    UInt64 = 13,
    /// <summary>Complex number of two 32-bit floats.</summary>
    Complex64 = 14,
    /// <summary>Complex number of two 64-bit floats.</summary>
    Complex128 = 15,
    /// <summary>Brain float: a 32-bit float truncated to 16 bits.</summary>
    BFloat16 = 16,
}
