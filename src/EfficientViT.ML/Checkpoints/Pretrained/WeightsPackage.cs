using System.IO.Compression;
using System.Security;
using EfficientViT.ML.IO;

namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// Packs a weights file into a NuGet package, as ML.NET ships ResNet18's ONNX file for <c>DnnImageFeaturizer</c>: an
/// application that references the package gets the file (and its SHA-256 record) copied to
/// <c>efficientvit-weights/</c> in its output, where <see cref="EfficientVitPretrained.Resolve(string, PretrainedWeightsOptions?)"/>
/// looks before the cache. So a build from an internal package feed needs no download at run time.
/// </summary>
public static class WeightsPackage
{
    /// <summary>The package id used for <paramref name="model"/> by default: <c>EfficientViT.Weights.M0</c>, <c>EfficientViT.Weights.Timm.M0</c>.</summary>
    public static string DefaultId(PretrainedModel model) =>
        model.Format == CheckpointFormat.TimmSafeTensors ? $"EfficientViT.Weights.Timm.{model.Variant}" : $"EfficientViT.Weights.{model.Variant}";

    /// <summary>
    /// Writes <c>{id}.{version}.nupkg</c> into <paramref name="outputFolder"/> holding <paramref name="weightsPath"/> as
    /// <paramref name="model"/>'s file; returns its path. The file is checked first as a download would be (size and
    /// SHA-256 when the registry pins them, and a strict load).
    /// </summary>
    /// <exception cref="PretrainedWeightsException">The file is not <paramref name="model"/>'s weights.</exception>
    public static string Pack(PretrainedModel model, string weightsPath, string outputFolder, string? id = null, string version = "1.0.0")
    {
        ArgumentNullException.ThrowIfNull(model);
        id ??= DefaultId(model);
        if (id.Length == 0 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            throw new ArgumentException($"'{id}' is not a NuGet package id (letters, digits, '.', '-', '_').", nameof(id));
        if (!NuGetVersionPattern.IsMatch(version))
            throw new ArgumentException($"'{version}' is not a package version (such as 1.0.0).", nameof(version));

        var sha256 = WeightsStore.Sha256Of(weightsPath);
        WeightsStore.CheckFile(model, weightsPath, sha256);
        var path = Path.Combine(outputFolder, $"{id}.{version}.nupkg");
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            AddText(zip, "[Content_Types].xml", ContentTypes);
            AddText(zip, $"{id}.nuspec", Nuspec(model, id, version, sha256));
            AddText(zip, $"build/{id}.targets", Targets(model));
            AddText(zip, $"buildTransitive/{id}.targets", Targets(model));
            AddText(zip, $"weights/{model.FileName}.sha256", $"{sha256}  {model.FileName}\n");
            // Already compressed tensors gain little from deflate; stored, the package is built and restored faster.
            zip.CreateEntryFromFile(weightsPath, $"weights/{model.FileName}", CompressionLevel.NoCompression);
        });
        return path;
    }

    private static readonly System.Text.RegularExpressions.Regex NuGetVersionPattern = new(@"^\d+(\.\d+){1,3}(-[0-9A-Za-z.-]+)?$");

    private const string ContentTypes = """
        <?xml version="1.0" encoding="utf-8"?>
        <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
          <Default Extension="nuspec" ContentType="application/octet" />
          <Default Extension="targets" ContentType="application/octet" />
          <Default Extension="pth" ContentType="application/octet" />
          <Default Extension="safetensors" ContentType="application/octet" />
          <Default Extension="sha256" ContentType="application/octet" />
        </Types>
        """;

    private static string Nuspec(PretrainedModel model, string id, string version, string sha256) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
          <metadata>
            <id>{id}</id>
            <version>{version}</version>
            <authors>EfficientViT.ML weights pack</authors>
            <description>{SecurityElement.Escape($"The EfficientViT weights '{model.Name}' ({model.FileName}, SHA-256 {sha256}) for EfficientViT.ML, copied to efficientvit-weights/ in the output of the application that references this package. Source: {model.Source}. Licence of the weights: {model.Licence}.")}</description>
            <tags>efficientvit weights</tags>
          </metadata>
        </package>
        """;

    // Link places the file under efficientvit-weights/ of the build and publish output, where the library looks.
    private static string Targets(PretrainedModel model) => $"""
        <Project>
          <ItemGroup>
            <None Include="$(MSBuildThisFileDirectory)../weights/{model.FileName}" Link="{PretrainedWeightsOptions.PackagedFolderName}/{model.FileName}" CopyToOutputDirectory="PreserveNewest" CopyToPublishDirectory="PreserveNewest" Visible="false" />
            <None Include="$(MSBuildThisFileDirectory)../weights/{model.FileName}.sha256" Link="{PretrainedWeightsOptions.PackagedFolderName}/{model.FileName}.sha256" CopyToOutputDirectory="PreserveNewest" CopyToPublishDirectory="PreserveNewest" Visible="false" />
          </ItemGroup>
        </Project>
        """;

    private static void AddText(ZipArchive zip, string name, string text)
    {
        using var writer = new StreamWriter(zip.CreateEntry(name, CompressionLevel.Optimal).Open(), new System.Text.UTF8Encoding(false));
        writer.Write(text);
    }
}
