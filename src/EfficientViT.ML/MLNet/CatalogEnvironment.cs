using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// The ML.NET environment a catalog belongs to: the one whose messages reach <c>MLContext.Log</c>, whose seed and
/// component catalog the user set, and whose GPU settings apply. The only place the library reads ML.NET's non-public
/// members: ML.NET gives an extension's catalog methods no public path to these, and its own components read them
/// the same way (<c>CatalogUtils.GetEnvironment</c>). If a version of ML.NET changes them, every call fails with an
/// error saying so, and so does the test that checks them (<c>CatalogEnvironmentTests</c>); nothing falls back silently.
/// </summary>
internal static class CatalogEnvironment
{
    private static readonly PropertyInfo? EnvironmentProperty =
        typeof(MLContext).Assembly.GetType("Microsoft.ML.Data.IInternalCatalog")?.GetProperty("Environment");

    private static readonly ConstructorInfo? TransformsConstructor =
        typeof(TransformsCatalog).GetConstructor(BindingFlags.Instance | BindingFlags.NonPublic, [typeof(IHostEnvironment)]);

    private static readonly Type? InternalEnvironment = typeof(IHostEnvironment).Assembly.GetType("Microsoft.ML.Runtime.IHostEnvironmentInternal");
    private static readonly PropertyInfo? GpuDeviceIdProperty = InternalEnvironment?.GetProperty("GpuDeviceId");
    private static readonly PropertyInfo? FallbackToCpuProperty = InternalEnvironment?.GetProperty("FallbackToCpu");
    private static readonly PropertyInfo? TempFilePathProperty = InternalEnvironment?.GetProperty("TempFilePath");

    /// <summary>The environment of <paramref name="catalog"/> (<c>mlContext.Transforms</c>, <c>mlContext.Model</c>, a trainers catalog).</summary>
    public static IHostEnvironment Of(object catalog)
    {
        if (EnvironmentProperty is null)
            throw Changed("the interface Microsoft.ML.Data.IInternalCatalog with its property Environment");
        if (!EnvironmentProperty.DeclaringType!.IsInstanceOfType(catalog))
            throw Changed($"IInternalCatalog on {catalog.GetType().Name}");
        return EnvironmentProperty.GetValue(catalog) as IHostEnvironment ?? throw Changed($"the environment of {catalog.GetType().Name}");
    }

    /// <summary>The transforms catalog of <paramref name="environment"/>: what <c>mlContext.Transforms</c> is for the MLContext it belongs to.</summary>
    public static TransformsCatalog TransformsOf(IHostEnvironment environment) =>
        TransformsConstructor?.Invoke([environment]) as TransformsCatalog ?? throw Changed("TransformsCatalog's constructor from an IHostEnvironment");

    /// <summary>The MLContext's <c>GpuDeviceId</c> and <c>FallbackToCpu</c>, as ML.NET's own ONNX steps read them.</summary>
    public static (int? GpuDeviceId, bool FallbackToCpu) GpuSettingsOf(IHostEnvironment environment)
    {
        if (GpuDeviceIdProperty is null || FallbackToCpuProperty is null || !InternalEnvironment!.IsInstanceOfType(environment))
            throw Changed("IHostEnvironmentInternal's GpuDeviceId and FallbackToCpu");
        return ((int?)GpuDeviceIdProperty.GetValue(environment), (bool)FallbackToCpuProperty.GetValue(environment)!);
    }

    /// <summary>The MLContext's <c>TempFilePath</c>: where ML.NET's ONNX steps loaded from a zip write their copy of the network.</summary>
    public static string TempFolderOf(IHostEnvironment environment)
    {
        if (TempFilePathProperty is null || !InternalEnvironment!.IsInstanceOfType(environment))
            throw Changed("IHostEnvironmentInternal's TempFilePath");
        return TempFilePathProperty.GetValue(environment) as string ?? Path.GetTempPath();
    }

    private static InvalidOperationException Changed(string member) =>
        new($"EfficientViT.ML reads ML.NET's {member}, which this version of ML.NET ({typeof(MLContext).Assembly.GetName().Version}) does not have. " +
            "Use the ML.NET version EfficientViT.ML was built for (see its package dependencies).");
}
