using System.Reflection;
using System.Runtime.CompilerServices;
using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Switches a model's forward pass to the fast layers and back. While installed, every <see cref="Conv2dBN"/>,
/// <see cref="BNLinear"/>, <see cref="SqueezeExcite"/> and <see cref="CascadedGroupAttention"/> the model's modules
/// call is a subclass computing the same function faster (<see cref="FastConv2dBN"/>, <see cref="FastBNLinear"/>,
/// <see cref="FastSqueezeExcite"/>, <see cref="FastCascadedGroupAttention"/>) that shares the layer's modules and
/// tensors, and the last stage's output gets its gradient back channels-last (<see cref="ChannelsLastGradient"/>).
/// </summary>
/// <remarks>
/// A layer is replaced where its owner holds it, as PyTorch's <c>setattr(owner, name, layer)</c> would: in the field
/// TorchSharp registered it from (a <c>Sequential</c> holding layers is replaced by one holding the fast layers),
/// or in its <c>ModuleList</c>. Nothing is registered anew: the model's module tree, and so its
/// <c>state_dict</c>, parameters, train and eval mode, loading and saving, are the same with or without. Hooks
/// registered on a replaced layer (or its children) do not run while it is replaced. <see cref="Dispose"/> puts every
/// layer back; do not fuse, move or change the layers of a model while they are replaced.
/// </remarks>
internal sealed class FastLayers : IDisposable
{
    // The models whose layers are replaced now, so that an installation inside another changes nothing.
    private static readonly ConditionalWeakTable<EfficientVit, FastLayers> Installed = [];

    private readonly Dictionary<nn.Module, nn.Module> fast = new(ReferenceEqualityComparer.Instance);
    private readonly List<Action> undo = [];

    private FastLayers()
    {
    }

    private FastLayers(EfficientVit model)
    {
        // Owners after everything they hold (named_modules lists a module before what it holds, and leaves out the
        // model itself), so that a layer's own parts are fast before the fast layer that shares them is made.
        foreach (var owner in model.modules().Reverse().Append(model))
        {
            if (owner is ModuleList<Conv2dBN> list)
                ReplaceInList(list);
            else if (owner.GetType().Namespace == typeof(EfficientVit).Namespace)
                ReplaceInFields(owner);
        }
        var lastStage = model.LastStage.register_forward_hook((_, _, output) => ChannelsLastGradient.MarkChannelsLast(output));
        undo.Add(lastStage.remove);
        undo.Add(() => Installed.Remove(model));
    }

    /// <summary>Installs the fast layers in <paramref name="model"/>; where they are installed already, nothing (and disposing the result undoes nothing).</summary>
    public static FastLayers Install(EfficientVit model)
    {
        if (Installed.TryGetValue(model, out _))
            return new FastLayers();
        var layers = new FastLayers(model);
        Installed.Add(model, layers);
        return layers;
    }

    /// <summary>Puts the model's own layers back, in the order they were replaced in reverse.</summary>
    public void Dispose()
    {
        for (var i = undo.Count - 1; i >= 0; i--)
            undo[i]();
        undo.Clear();
    }

    private void ReplaceInList(ModuleList<Conv2dBN> list)
    {
        for (var i = 0; i < list.Count; i++)
        {
            var (index, layer) = (i, list[i]);
            if (FastVersion(layer) is Conv2dBN replacement)
            {
                list[index] = replacement;
                undo.Add(() => list[index] = layer);
            }
        }
    }

    private void ReplaceInFields(nn.Module owner)
    {
        for (var type = owner.GetType(); type.Namespace == typeof(EfficientVit).Namespace; type = type.BaseType!)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (field.GetValue(owner) is not nn.Module layer || FastVersion(layer) is not { } replacement || !field.FieldType.IsInstanceOfType(replacement))
                    continue;
                field.SetValue(owner, replacement);
                // Only while the field still holds the replacement: a layer the owner itself has replaced since stays.
                undo.Add(() =>
                {
                    if (ReferenceEquals(field.GetValue(owner), replacement))
                        field.SetValue(owner, layer);
                });
            }
        }
    }

    // The fast layer computing `layer`, made once per layer; null for a module that has none (or is one).
    private nn.Module? FastVersion(nn.Module layer)
    {
        if (fast.TryGetValue(layer, out var known))
            return known;
        nn.Module? replacement = layer switch
        {
            IFastLayer => null,
            Conv2dBN conv => new FastConv2dBN(conv),
            BNLinear head => new FastBNLinear(head),
            SqueezeExcite gate => new FastSqueezeExcite(gate),
            CascadedGroupAttention attention => new FastCascadedGroupAttention(attention),
            Sequential sequence => FastSequence(sequence),
            _ => null,
        };
        if (replacement is not null)
            fast[layer] = replacement;
        return replacement;
    }

    // A Sequential with the same names and modules, its layers fast; null when it holds none.
    private Sequential? FastSequence(Sequential sequence)
    {
        var children = sequence.named_children().ToList();
        var replaced = children.Select(child => FastVersion(child.module)).ToList();
        if (replaced.All(module => module is null))
            return null;
        return nn.Sequential(children.Select((child, i) => (child.name, (nn.Module<Tensor, Tensor>)(replaced[i] ?? child.module))));
    }
}
