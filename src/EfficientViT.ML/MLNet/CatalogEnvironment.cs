using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace EfficientViT.ML.MLNet;

/// <summary>The ML.NET environment a catalog belongs to: the one whose messages reach <c>MLContext.Log</c>.</summary>
internal static class CatalogEnvironment
{
    // ML.NET's catalogs expose their environment only through an internal interface, the one its own
    // components read it from (CatalogUtils.GetEnvironment); there is no public accessor.
    private static readonly System.Reflection.PropertyInfo? EnvironmentProperty =
        typeof(MLContext).Assembly.GetType("Microsoft.ML.Data.IInternalCatalog")?.GetProperty("Environment");

    /// <summary>The catalog's environment, or null when this version of ML.NET does not expose it that way.</summary>
    public static IHostEnvironment? Of(object catalog)
    {
        if (EnvironmentProperty is null || !EnvironmentProperty.DeclaringType!.IsInstanceOfType(catalog))
            return null;
        return EnvironmentProperty.GetValue(catalog) as IHostEnvironment;
    }

    // TransformsCatalog's constructor from an environment is internal too; MLContext calls it with its own.
    private static readonly System.Reflection.ConstructorInfo? TransformsConstructor = typeof(TransformsCatalog).GetConstructor(
        System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic, [typeof(IHostEnvironment)]);

    /// <summary>The transforms catalog of <paramref name="environment"/> (what <c>mlContext.Transforms</c> is for the MLContext it belongs to), or null when this version of ML.NET does not allow it.</summary>
    public static TransformsCatalog? TransformsOf(IHostEnvironment environment) =>
        environment is MLContext mlContext ? mlContext.Transforms : TransformsConstructor?.Invoke([environment]) as TransformsCatalog;
}
