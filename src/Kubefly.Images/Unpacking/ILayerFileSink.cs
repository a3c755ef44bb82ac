namespace Kubefly.Images.Unpacking;

/// <summary>Takes a layer's regular files, in tar order, as the unpacker writes them (the layer's file table).</summary>
public interface ILayerFileSink
{
    void Add(LayerFile file);
}
