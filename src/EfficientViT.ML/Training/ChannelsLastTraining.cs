using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Training;

/// <summary>
/// Holds a model's weights channels-last for the length of a training run (see <see cref="ChannelsLast"/>):
/// applied on creation, restored to contiguous on <see cref="Restore"/> and on disposal, so that every
/// way out of the run (return, cancellation, exception) hands back a model that saves and exports.
/// The values never change, only their layout in memory.
/// </summary>
internal sealed class ChannelsLastTraining : IDisposable
{
    private readonly EfficientVit model;

    public ChannelsLastTraining(EfficientVit model)
    {
        this.model = model;
        Apply();
    }

    /// <summary>Lays the weights out channels-last.</summary>
    public void Apply() => ChannelsLast.Convert(model);

    /// <summary>Lays the weights out contiguously again.</summary>
    public void Restore() => ChannelsLast.Restore(model);

    public void Dispose() => Restore();
}
