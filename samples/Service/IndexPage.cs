using System.Reflection;

namespace EfficientViT.Service;

/// <summary>The page of <c>GET /</c> (wwwroot/index.html, embedded: no files to deploy, no external assets).</summary>
internal static class IndexPage
{
    public static readonly string Html = Read();

    private static string Read()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("index.html")
            ?? throw new InvalidOperationException("the embedded resource index.html is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
