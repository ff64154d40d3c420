"""Groups service: customer groups, membership, metadata, group pricing. (HTTP port 8002)"""
