using EfficientViT.ML.Checkpoints;

namespace EfficientViT.Training.Commands;

/// <summary>Turns the library's expected failures into one clear line and exit code 1, instead of a stack trace.</summary>
internal static class CommandErrors
{
    public static int Run(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is CheckpointException or ArgumentException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
