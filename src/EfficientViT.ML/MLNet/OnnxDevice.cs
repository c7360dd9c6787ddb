using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Runtime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Where the library's ONNX Runtime sessions run: on the CPU, or on CUDA device <see cref="GpuDeviceId"/> when the
/// application references a native ONNX Runtime with CUDA (<c>Microsoft.ML.OnnxRuntime.Gpu</c>). The same two settings
/// as ML.NET's <c>ApplyOnnxModel</c> and <c>MLContext</c>, which the library also passes to the ML.NET steps it makes.
/// </summary>
/// <param name="GpuDeviceId">The CUDA device; null: the CPU.</param>
/// <param name="FallbackToCpu">When the device cannot be used: run on the CPU (true), or refuse with an error naming it (false).</param>
internal sealed record OnnxDevice(int? GpuDeviceId, bool FallbackToCpu)
{
    /// <summary>The CPU.</summary>
    public static readonly OnnxDevice Cpu = new(null, false);

    /// <summary>The settings given, each left unset (null) taken from the MLContext's <c>GpuDeviceId</c> and <c>FallbackToCpu</c>.</summary>
    public static OnnxDevice Resolve(int? gpuDeviceId, bool? fallbackToCpu, IHostEnvironment environment)
    {
        var (contextDevice, contextFallback) = CatalogEnvironment.GpuSettingsOf(environment);
        return new OnnxDevice(gpuDeviceId ?? contextDevice, fallbackToCpu ?? contextFallback);
    }

    /// <summary>New session options for this device (the caller disposes them); a GPU device is one <see cref="Usable"/> returned.</summary>
    public SessionOptions NewSessionOptions()
    {
        var options = new SessionOptions();
        if (GpuDeviceId is { } device)
            options.AppendExecutionProvider_CUDA(device);
        return options;
    }

    /// <summary>
    /// The device sessions will run on, checked now so that a fit or a load fails at once, not at the first image:
    /// this one, or the CPU when it cannot be used and <see cref="FallbackToCpu"/> is set; otherwise the error naming it.
    /// </summary>
    /// <remarks>
    /// ML.NET's own ONNX steps fall back only on an <see cref="OnnxRuntimeException"/>, and the CPU build of ONNX Runtime
    /// has no CUDA entry point at all (an <see cref="EntryPointNotFoundException"/>): the steps the library makes are
    /// therefore given the device this returns, the CPU after a fallback.
    /// </remarks>
    public OnnxDevice Usable()
    {
        if (GpuDeviceId is null)
            return this;
        using var options = new SessionOptions();
        try
        {
            options.AppendExecutionProvider_CUDA(GpuDeviceId.Value);
            return this;
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            return FallbackToCpu ? Cpu : throw Unusable(GpuDeviceId.Value, e);
        }
    }

    private static InvalidOperationException Unusable(int device, Exception cause) =>
        new($"EfficientViT: GPU device {device} (GpuDeviceId = {device}) cannot be used by ONNX Runtime: {cause.Message} " +
            "The application must reference the CUDA build of ONNX Runtime (Microsoft.ML.OnnxRuntime.Gpu) instead of Microsoft.ML.OnnxRuntime, " +
            "and the machine must have that device; or set FallbackToCpu = true to score on the CPU.", cause);
}
