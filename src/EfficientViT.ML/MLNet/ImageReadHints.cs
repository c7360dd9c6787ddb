namespace EfficientViT.ML.MLNet;

/// <summary>What to add to an error reading an input image, when the cause is one users meet without having made a mistake they can see.</summary>
internal static class ImageReadHints
{
    // MLImage reports use after disposal as an InvalidOperationException with this message.
    private const string DisposedImageMessage = "Object is disposed.";

    /// <summary>A sentence (with a leading space) explaining <paramref name="cause"/>, or an empty string.</summary>
    public static string For(Exception cause) => cause is ObjectDisposedException or InvalidOperationException { Message: DisposedImageMessage }
        ? " The image was disposed before this read: ML.NET's ResizeImages passes on an image that is already at the size it"
          + " resizes to and disposes it once read, so in-memory images of the model's size can be read once. Give new MLImage"
          + " objects for each pass (or load them from files with LoadImages, which decodes them for each pass)."
        : "";
}
