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
        catch (StoppedBySignalException e)
        {
            // What happened was said when it happened.
            return e.ExitCode;
        }
        catch (Exception e) when (e is CheckpointException or ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            // libtorch's messages carry a native stack trace after their first line.
            Console.Error.WriteLine($"error: libtorch failed: {e.Message.Split('\n')[0]}. A training run keeps the checkpoint of its last finished epoch; --resume continues from it.");
            return 1;
        }
    }
}
