using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>Runs a serialized ONNX model in ONNX Runtime on TorchSharp tensors (float32 or int64).</summary>
internal static class OnnxRuntimeRunner
{
    /// <summary>Runs the model once and returns every graph output by name, as new CPU tensors owned by the caller.</summary>
    public static Dictionary<string, Tensor> Run(byte[] model, params (string Name, Tensor Value)[] inputs)
    {
        using var session = new InferenceSession(model);
        return Run(session, inputs);
    }

    /// <summary>Runs an existing session once and returns every graph output by name.</summary>
    public static Dictionary<string, Tensor> Run(InferenceSession session, params (string Name, Tensor Value)[] inputs)
    {
        var values = new Dictionary<string, OrtValue>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, value) in inputs)
                values[name] = ToOrtValue(value);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, values, session.OutputNames);
            return session.OutputNames.Zip(outputs).ToDictionary(pair => pair.First, pair => ToTensor(pair.Second));
        }
        finally
        {
            foreach (var value in values.Values)
                value.Dispose();
        }
    }

    private static OrtValue ToOrtValue(Tensor tensor)
    {
        using var cpu = tensor.cpu();
        using var contiguous = cpu.contiguous();
        return tensor.dtype switch
        {
            ScalarType.Float32 => OrtValue.CreateTensorValueFromMemory(contiguous.data<float>().ToArray(), contiguous.shape),
            ScalarType.Int64 => OrtValue.CreateTensorValueFromMemory(contiguous.data<long>().ToArray(), contiguous.shape),
            _ => throw new ArgumentException($"Unsupported input type {tensor.dtype}."),
        };
    }

    private static Tensor ToTensor(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        return info.ElementDataType switch
        {
            TensorElementType.Float => tensor(value.GetTensorDataAsSpan<float>().ToArray(), info.Shape),
            TensorElementType.Int64 => tensor(value.GetTensorDataAsSpan<long>().ToArray(), info.Shape),
            _ => throw new ArgumentException($"Unsupported output type {info.ElementDataType}."),
        };
    }
}
