using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// A training run's speed set-up, from the start of the run to its end: freed native memory kept for the next
/// step (<see cref="NativeHeap"/>, optional), the weights stored channels-last when batches hold more than one
/// image (<see cref="ChannelsLast"/>), the fast layers (<see cref="FastLayers"/>), and activation checkpointing
/// (<see cref="ActivationCheckpointing"/>, optional: less memory for more time). Batches go in through
/// <see cref="Input"/>. Every way out of the run (return, cancellation, exception) disposes it and gets the model
/// back as it was: its own layers, its weights stored contiguously (as saving and export need). The values never
/// change, only the layout and which code computes them.
/// </summary>
internal sealed class TrainingAcceleration : IDisposable
{
    private readonly EfficientVit model;
    private readonly bool channelsLast;
    private readonly FastLayers layers;
    private readonly ActivationCheckpointing? checkpointing;
    private readonly PartScopes? partScopes;

    /// <param name="model">The model to train.</param>
    /// <param name="channelsLast">
    /// Whether the weights and batches are stored channels-last: the faster layout for the convolutions' backward
    /// pass. Not for batches of one image, whose channels-last gradients libtorch got wrong (see <see cref="ChannelsLast.Of"/>).
    /// </param>
    /// <param name="keepFreedNativeMemory">Whether the C library keeps freed blocks for the next step (process-wide).</param>
    /// <param name="checkpointActivations">Whether each part of the network recomputes its activations in the backward pass (<see cref="ActivationCheckpointing"/>).</param>
    public TrainingAcceleration(EfficientVit model, bool channelsLast, bool keepFreedNativeMemory, bool checkpointActivations = false)
    {
        if (keepFreedNativeMemory)
            NativeHeap.KeepFreedMemory();
        this.model = model;
        this.channelsLast = channelsLast;
        // Before an optimizer is built: its flat buffer keeps the layout it finds.
        if (channelsLast)
            ChannelsLast.Convert(model);
        layers = FastLayers.Install(model);
        if (checkpointActivations)
            checkpointing = ActivationCheckpointing.Install(model);
        else
            partScopes = PartScopes.Install(model);
    }

    /// <summary><paramref name="images"/> in the layout of the weights, as a new tensor (an alias where the layout is already that).</summary>
    public Tensor Input(Tensor images) => channelsLast ? ChannelsLast.Of(images) : images.alias();

    /// <summary>Runs <paramref name="action"/> with the weights stored contiguously (saving needs them so), then lays them out again.</summary>
    public void WithContiguousWeights(Action action)
    {
        if (channelsLast)
            ChannelsLast.Restore(model);
        try
        {
            action();
        }
        finally
        {
            if (channelsLast)
                ChannelsLast.Convert(model);
        }
    }

    /// <summary>Puts the model's own layers back and stores its weights contiguously; again, nothing more.</summary>
    public void Dispose()
    {
        checkpointing?.Dispose();
        partScopes?.Dispose();
        layers.Dispose();
        if (channelsLast)
            ChannelsLast.Restore(model);
    }
}
