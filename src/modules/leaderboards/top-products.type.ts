import { Field, Int, ObjectType } from 'type-graphql';
import { Product } from '../catalog/product.type';

@ObjectType({ description: 'A product and how many units of it were sold (in orders not cancelled).' })
export class TopProduct {
  @Field(() => Product)
  product!: Product;

  @Field(() => Int)
  unitsSold!: number;
}
